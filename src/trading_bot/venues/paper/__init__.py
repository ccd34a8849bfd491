"""The paper venue: the simulated exchange on the wall clock, keeping its books in the store."""
