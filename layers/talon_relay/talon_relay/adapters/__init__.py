"""One adapter per trigger: an event in, the core called, the trigger's answer out."""
