"""Talon.One's JSON shapes: models, effects and formats (pure: no logging, no AWS)."""
