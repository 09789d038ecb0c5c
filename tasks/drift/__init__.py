"""The drift check: a new batch against the champion's reference statistics."""
