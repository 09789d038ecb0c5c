"""Load against the chat service over HTTP: arrival schedule, driver and summary."""
