"""hvsim's world model: the persistent state of the simulated lab (docs/DESIGN.md section 5)."""
from .core import World, iso, parse_iso, utcnow
from .lab import build_world, load_lab

__all__ = ["World", "build_world", "load_lab", "iso", "parse_iso", "utcnow"]
