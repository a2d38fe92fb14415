"""Emulated cmdlets: hyperv (see docs/DESIGN.md section 8)."""
