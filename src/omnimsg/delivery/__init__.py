"""Delivery: executing plans through transports, with state shared by many workers."""
