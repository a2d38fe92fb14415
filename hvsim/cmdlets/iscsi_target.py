"""Emulated cmdlets: iscsi_target (see docs/DESIGN.md section 8)."""
