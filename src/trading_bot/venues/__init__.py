"""Venue adapters: where orders go. The core only sees the `Venue` port in `base`."""
