"""What the functions read from outside the code: the environment and records."""
