"""Features, the clustering grid, its metrics, the selection rule and segment assignment."""
