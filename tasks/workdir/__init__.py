"""The working folder: one run at a time (a lock), and each run published whole or not at all."""
