"""Balances, positions, fees and P&L, built from fills."""
