"""Backtests: historical bars and recorded signals through the live pipeline, on a simulated clock."""
