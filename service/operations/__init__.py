"""Running the service: its logs, metrics, readiness, and backup and restore."""
