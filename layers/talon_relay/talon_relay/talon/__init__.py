"""The Talon.One Integration API client: transport, authentication and its errors."""
