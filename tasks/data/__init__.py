"""Data in: read and validate files, pick the data source, synthetic data, the landing folder."""
