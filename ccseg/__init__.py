"""ccseg package."""
