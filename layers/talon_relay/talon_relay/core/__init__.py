"""What the relay does, whatever the trigger: check, authenticate, order, call once, log."""
