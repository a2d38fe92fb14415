"""Pulumi engine harness fixtures (filled in by the engine work)."""
