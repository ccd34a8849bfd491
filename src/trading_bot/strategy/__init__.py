"""Strategies decide whether and how to act on incoming signals."""
