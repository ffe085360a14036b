"""Replay web: the outlets' pages served from files on 127.0.0.1, by host (see web/README.md)."""
