"""consumer/bridge: see README "Repository layout"."""
