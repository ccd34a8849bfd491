"""Values and rules of the trading domain. Imports nothing else of ours and does no I/O."""
