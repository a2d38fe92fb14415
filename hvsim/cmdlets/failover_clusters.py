"""Emulated cmdlets: failover_clusters (see docs/DESIGN.md section 8)."""
