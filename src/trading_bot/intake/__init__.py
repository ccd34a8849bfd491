"""Signal intake: parsing, validation and the sources signals arrive from."""
