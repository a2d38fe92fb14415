"""Emulated cmdlets: storage (see docs/DESIGN.md section 8)."""
