"""Execution algorithms: how an approved intent becomes orders."""
