"""consumer/runtime: see README "Repository layout"."""
