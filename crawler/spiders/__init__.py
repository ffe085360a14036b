"""Spiders: the one-off fetch spider and the registry-driven outlet spider."""
