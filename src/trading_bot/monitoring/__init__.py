"""Logs, metrics, alerts and performance analytics."""
