"""Emulated cmdlets: iscsi_initiator (see docs/DESIGN.md section 8)."""
