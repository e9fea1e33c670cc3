"""talon_relay: the shared layer of the relay (Talon.One Integration API client, models, effects).

Kept empty on purpose: every submodule is imported on demand so a cold start pays only for what
the handler uses.
"""
