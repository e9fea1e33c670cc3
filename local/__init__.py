"""Running talon-relay on one machine: the Talon.One emulator, local AWS, the local gateway."""
