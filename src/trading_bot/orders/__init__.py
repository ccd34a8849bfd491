"""Order lifecycle: tracking every order from intent to final state."""
