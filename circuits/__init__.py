"""Circuit IR (filled in by the circuit issue)."""
