"""The event bus, clocks and the kernel that wires the trading pipeline."""
