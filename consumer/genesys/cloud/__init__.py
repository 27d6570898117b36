"""consumer/genesys/cloud: see README "Repository layout"."""
