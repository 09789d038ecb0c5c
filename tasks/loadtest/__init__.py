"""Load against the chat service over HTTP: the ramp, its traffic, the services it may start,
the verdicts, and where the results go."""
