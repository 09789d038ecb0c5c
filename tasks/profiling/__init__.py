"""Who each segment is: behaviour traits, profiles, names and readable membership rules."""
