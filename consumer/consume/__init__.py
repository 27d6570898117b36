"""consumer/consume: see README "Repository layout"."""
