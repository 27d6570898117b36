"""consumer/adapters/kafka: see README "Repository layout"."""
