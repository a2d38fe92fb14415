"""hvsim lab fixtures (filled in by the hvsim protocol work)."""
