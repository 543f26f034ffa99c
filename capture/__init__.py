"""The Pi-side capture agent: cameras, triggers and the offline spool."""
