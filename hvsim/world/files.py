"""A host's files and directories: `host["files"]`, keyed by the lower-cased full path.

Paths are Windows paths, case-insensitive, compared after normalising `/` to `\\` and dropping a
trailing backslash. Drive roots (`C:\\`) always exist. Creating a file creates its parent directories.
Entries: {"path": "C:\\Dir\\x.vhdx", "kind": "file" | "dir", "size": int, "mtime": iso}.
"""
from __future__ import annotations

import re

from .core import iso, utcnow

_ROOT = re.compile(r"^[A-Za-z]:\\?$")


def normalize(path: str) -> str:
    """'c:/dir/' -> 'c:\\dir' (case kept); a bare drive becomes 'C:\\'."""
    p = str(path).replace("/", "\\")
    while "\\\\" in p[1:]:
        p = p[0] + p[1:].replace("\\\\", "\\")
    if _ROOT.match(p):
        return p[0].upper() + ":\\"
    return p.rstrip("\\")


def key(path: str) -> str:
    return normalize(path).lower()


def is_root(path: str) -> bool:
    return bool(_ROOT.match(normalize(path)))


def parent(path: str) -> str | None:
    p = normalize(path)
    if is_root(p):
        return None
    head, _, _ = p.rpartition("\\")
    return head + "\\" if re.match(r"^[A-Za-z]:$", head) else head


def leaf(path: str) -> str:
    p = normalize(path)
    return p if is_root(p) else p.rpartition("\\")[2]


def get(host: dict, path: str) -> dict | None:
    """The entry for path, a synthetic one for a drive root, or None."""
    p = normalize(path)
    if is_root(p):
        return {"path": p, "kind": "dir", "size": 0, "mtime": host.get("last_boot") or iso(utcnow())}
    return host.setdefault("files", {}).get(p.lower())


def exists(host: dict, path: str) -> bool:
    return get(host, path) is not None


def ensure_dir(host: dict, path: str) -> dict:
    """Create a directory and its parents (call inside a transaction)."""
    p = normalize(path)
    entry = get(host, p)
    if entry is not None:
        if entry["kind"] != "dir":
            raise FileExistsError(p)
        return entry
    par = parent(p)
    if par is not None:
        ensure_dir(host, par)
    entry = {"path": p, "kind": "dir", "size": 0, "mtime": iso(utcnow())}
    host.setdefault("files", {})[p.lower()] = entry
    return entry


def put_file(host: dict, path: str, size: int = 0, **extra) -> dict:
    """Create or replace a file (parents created). Extra keys are stored with the entry."""
    p = normalize(path)
    par = parent(p)
    if par is not None:
        ensure_dir(host, par)
    existing = host.setdefault("files", {}).get(p.lower())
    if existing is not None and existing["kind"] == "dir":
        raise IsADirectoryError(p)
    entry = {"path": p, "kind": "file", "size": int(size), "mtime": iso(utcnow()), **extra}
    host["files"][p.lower()] = entry
    return entry


def children(host: dict, path: str) -> list[dict]:
    """Direct children of a directory, sorted by name (case-insensitive)."""
    k = key(path)
    prefix = k if k.endswith("\\") else k + "\\"
    out = [e for fk, e in host.setdefault("files", {}).items()
           if fk.startswith(prefix) and "\\" not in fk[len(prefix):]]
    return sorted(out, key=lambda e: e["path"].lower())


def descendants(host: dict, path: str) -> list[dict]:
    k = key(path)
    prefix = k if k.endswith("\\") else k + "\\"
    return [e for fk, e in host.setdefault("files", {}).items() if fk.startswith(prefix)]


def remove(host: dict, path: str, recurse: bool = False) -> None:
    """Remove a file, or a directory (with recurse=True if it has children)."""
    p = normalize(path)
    files = host.setdefault("files", {})
    entry = files.get(p.lower())
    if entry is None:
        raise FileNotFoundError(p)
    if entry["kind"] == "dir":
        kids = descendants(host, p)
        if kids and not recurse:
            raise OSError(f"directory not empty: {p}")
        for e in kids:
            files.pop(e["path"].lower(), None)
    files.pop(p.lower(), None)
