"""consumer/adapters/postgres: see README "Repository layout"."""
