"""Emulated cmdlets: management (see docs/DESIGN.md section 8)."""
