"""Load generation and cold-start measurement against a running service."""
