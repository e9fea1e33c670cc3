"""template.yaml's sources: base.yaml (the shared part, by hand) and render.py (one block per operation)."""
