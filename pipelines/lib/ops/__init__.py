"""Operating the platform: the working area's lock, alerts, backups."""
