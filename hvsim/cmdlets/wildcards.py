"""PowerShell wildcard matching for cmdlet name filters (-Name 'Hyper-V*'): case-insensitive * ? [ ]."""
from __future__ import annotations

import fnmatch


def has_wildcard(text: str) -> bool:
    return any(c in str(text) for c in "*?[")


def like(name: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(str(name).lower(), str(pattern).lower())
