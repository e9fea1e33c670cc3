"""Who may call the relay: the decision for each request (access) and the caller signature scheme."""
