"""Emulated cmdlets: Get-Item, Get-ChildItem, New-Item, Remove-Item on a host's files (FileSystem provider).

The files live in the world (`host["files"]`, see hvsim/world/files.py). Objects are FileInfo /
DirectoryInfo with their usual properties; with -Path, wildcards (* ? [ ]) work in the last path
component, with -LiteralPath every character is literal (a folder named 'lab [1]').
"""
from __future__ import annotations

import fnmatch
from typing import Any, Iterable

from hvsim.powershell.values import PSObject
from hvsim.world import cluster, files, nested
from hvsim.world.core import parse_iso

from .registry import BoundParameters, CmdletContext, CmdletError, cmdlet
from .wildcards import has_wildcard

_FS = "Microsoft.PowerShell.Core\\FileSystem::"


def item_object(entry: dict) -> PSObject:
    path = entry["path"]
    is_dir = entry["kind"] == "dir"
    parent = files.parent(path)
    name = files.leaf(path)
    when = parse_iso(entry["mtime"])
    props: dict[str, Any] = {
        "PSPath": _FS + path,
        "PSParentPath": _FS + parent if parent else "",
        "PSChildName": name,
        "PSDrive": path[0].upper(),
        "PSProvider": "Microsoft.PowerShell.Core\\FileSystem",
        "PSIsContainer": is_dir,
        "Mode": "d-----" if is_dir else "-a----",
        "Name": name,
        "FullName": path,
        "Extension": "" if is_dir or "." not in name else "." + name.rsplit(".", 1)[1],
        "Exists": True,
        "CreationTime": when,
        "CreationTimeUtc": when,
        "LastWriteTime": when,
        "LastWriteTimeUtc": when,
        "LastAccessTime": when,
        "Attributes": "Directory" if is_dir else "Archive",
    }
    if is_dir:
        props["Parent"] = files.leaf(parent) if parent else None
        props["Root"] = path[:3]
    else:
        props["Length"] = int(entry.get("size", 0))
        props["DirectoryName"] = parent
        props["Directory"] = parent
        props["IsReadOnly"] = False
        props["BaseName"] = name.rsplit(".", 1)[0] if "." in name else name
    return PSObject(props, type_name="System.IO.DirectoryInfo" if is_dir else "System.IO.FileInfo")


def _absolute(ctx: CmdletContext, path: str) -> str:
    p = str(path)
    if p.lower().startswith(_FS.lower()):
        p = p[len(_FS):]
    if len(p) >= 2 and p[1] == ":":
        return files.normalize(p)
    base = f"C:\\Users\\{ctx.session.user.split(chr(92))[-1]}\\Documents"
    return files.normalize(base + "\\" + p.lstrip("\\/"))


def _not_found(path: str, error_id: str = "PathNotFound") -> CmdletError:
    return CmdletError(f"Cannot find path '{path}' because it does not exist.", error_id, category="ObjectNotFound",
                       target=path, exception_type="System.Management.Automation.ItemNotFoundException")


def _expand(h: dict, path: str) -> list[dict] | None:
    """Entries a path names (wildcards in the last component); None when a literal path is missing."""
    if has_wildcard(files.leaf(path)):
        par = files.parent(path)
        if par is None or files.get(h, par) is None:
            return []
        pattern = files.leaf(path).lower()
        return [e for e in files.children(h, par) if fnmatch.fnmatchcase(files.leaf(e["path"]).lower(), pattern)]
    entry = files.get(h, path)
    return None if entry is None else [entry]


def _literal(h: dict, path: str) -> list[dict] | None:
    entry = files.get(h, path)
    return None if entry is None else [entry]


def _paths(ctx: CmdletContext, p: BoundParameters, default: str | None = None) -> list[str]:
    raw = p.get("LiteralPath") or p.get("Path") or ([default] if default else [])
    return [_absolute(ctx, x) for x in raw]


@cmdlet("Get-Item")
def get_item(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    out = []
    with ctx.world.read():
        h = ctx.host()
        for path in _paths(ctx, p):
            entries = _literal(h, path) if p.get("LiteralPath") else _expand(h, path)
            if not entries:
                if entries is None:
                    raise _not_found(path)
                continue
            out += [item_object(e) for e in entries]
    return out


@cmdlet("Get-ChildItem")
def get_child_item(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    out: list = []
    with ctx.world.read():
        h = ctx.host()
        for path in _paths(ctx, p, default=f"C:\\Users\\{ctx.session.user.split(chr(92))[-1]}\\Documents"):
            # -LiteralPath takes * ? [ ] as characters of the name; -Path reads them as wildcards
            entries = _literal(h, path) if p.get("LiteralPath") else _expand(h, path)
            if entries is None:
                raise _not_found(path)
            for entry in entries:
                if entry["kind"] == "file":
                    items = [entry]
                elif p.switch("Recurse"):
                    items = sorted(files.descendants(h, entry["path"]), key=lambda e: e["path"].lower())
                else:
                    items = files.children(h, entry["path"])
                if p.get("Filter"):
                    items = [e for e in items if fnmatch.fnmatchcase(files.leaf(e["path"]).lower(), p["Filter"].lower())]
                if p.get("Include"):
                    items = [e for e in items if any(fnmatch.fnmatchcase(files.leaf(e["path"]).lower(), i.lower())
                                                     for i in p["Include"])]
                if p.get("Exclude"):
                    items = [e for e in items if not any(fnmatch.fnmatchcase(files.leaf(e["path"]).lower(), x.lower())
                                                         for x in p["Exclude"])]
                if p.switch("Directory"):
                    items = [e for e in items if e["kind"] == "dir"]
                if p.switch("File"):
                    items = [e for e in items if e["kind"] == "file"]
                if p.switch("Name"):
                    base = entry["path"].rstrip("\\") + "\\"
                    out += [e["path"][len(base):] if e["path"].lower().startswith(base.lower()) else files.leaf(e["path"])
                            for e in items]
                else:
                    out += [item_object(e) for e in items]
    return out


@cmdlet("New-Item")
def new_item(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    kind = (p.get("ItemType") or "File").lower()
    if kind not in ("file", "directory"):
        raise CmdletError(f"hvsim's FileSystem provider creates only files and directories, not '{p['ItemType']}'.",
                          "NotImplemented", category="NotImplemented", terminating=True)
    bases = _paths(ctx, p, default=f"C:\\Users\\{ctx.session.user.split(chr(92))[-1]}\\Documents")
    targets = [files.normalize(b + "\\" + p["Name"]) if p.get("Name") else b for b in bases]
    out = []
    with ctx.world.transaction():
        h = ctx.host()
        for path in targets:
            existing = files.get(h, path)
            if kind == "directory":
                if existing is not None:
                    if existing["kind"] == "dir" and p.switch("Force"):
                        out.append(item_object(existing))
                        continue
                    raise CmdletError(f"An item with the specified name {path} already exists.", "DirectoryExist",
                                      category="ResourceExists", target=path, exception_type="System.IO.IOException")
                out.append(item_object(files.ensure_dir(h, path)))
                continue
            if existing is not None and (existing["kind"] == "dir" or not p.switch("Force")):
                raise CmdletError(f"The file '{path}' already exists.", "NewItemIOError", category="WriteError",
                                  target=path, exception_type="System.IO.IOException")
            par = files.parent(path)
            if par is not None and files.get(h, par) is None and not p.switch("Force"):
                raise CmdletError(f"Could not find a part of the path '{path}'.", "NewItemIOError",
                                  category="WriteError", target=path,
                                  exception_type="System.IO.DirectoryNotFoundException")
            value = p.get("Value")
            size = len(str(value).encode("utf-8")) if value is not None else 0
            extra = {"content": str(value)} if value is not None else {}
            out.append(item_object(files.put_file(h, path, size, **extra)))
        cluster.sync_csv_files(ctx.world)   # a file on a CSV is there for every node at once
    return out


def _refuse_open_vhd(h: dict, entry: dict) -> None:
    """A virtual disk held open (mounted, or in the chain of a VM that is not Off) cannot be deleted."""
    for e in [entry] + (files.descendants(h, entry["path"]) if entry["kind"] == "dir" else []):
        if e.get("vhd") and (nested.mounted_disk(h, e["path"]) is not None or nested.in_use_by_vm(h, e["path"])):
            raise CmdletError(f"Cannot remove item {e['path']}: The process cannot access the file '{e['path']}' "
                              "because it is being used by another process.", "RemoveFileSystemItemIOError",
                              category="WriteError", target=e["path"], exception_type="System.IO.IOException")


@cmdlet("Remove-Item")
def remove_item(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    with ctx.world.transaction():
        h = ctx.host()
        for path in _paths(ctx, p):
            entries = _literal(h, path) if p.get("LiteralPath") else _expand(h, path)
            if entries is None:
                raise _not_found(path)
            for entry in entries:
                if files.is_root(entry["path"]):
                    raise CmdletError(f"Cannot remove the drive root '{entry['path']}'.", "RemoveItemUnauthorizedAccess",
                                      category="PermissionDenied", target=entry["path"],
                                      exception_type="System.UnauthorizedAccessException")
                if entry["kind"] == "dir" and files.descendants(h, entry["path"]) and not p.switch("Recurse"):
                    # Windows would ask for confirmation; a -NonInteractive session cannot.
                    raise CmdletError("Windows PowerShell is in NonInteractive mode. Read and Prompt functionality is "
                                      "not available.", "RemoveItemUnauthorizedAccess", category="InvalidOperation",
                                      target=entry["path"],
                                      exception_type="System.Management.Automation.PSInvalidOperationException")
                _refuse_open_vhd(h, entry)
                files.remove(h, entry["path"], recurse=True)
        cluster.sync_csv_files(ctx.world)   # gone from the CSV for every node at once
    return []


# Minimal Get-Content / Set-Content for the nested lab's tests (reading State.ini, writing unattend.xml on a
# mounted VHD); the full emulation (-Encoding, -Raw variants, -Stream...) is the guest-side cmdlets' work.
# A file's text is kept in its entry's "content" (hvsim/world/nested.py reads it there).
def _text_lines(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return ["" if v is None else str(v) for v in items]


@cmdlet("Get-Content")
def get_content(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    out: list = []
    with ctx.world.read():
        h = ctx.host()
        for path in _paths(ctx, p):
            entries = _literal(h, path) if p.get("LiteralPath") else _expand(h, path)
            if not entries:
                raise _not_found(path)
            for entry in entries:
                if entry["kind"] == "dir":
                    raise CmdletError(f"Could not find item {entry['path']}.", "GetContentReaderUnauthorizedAccessError",
                                      category="PermissionDenied", target=entry["path"],
                                      exception_type="System.UnauthorizedAccessException")
                text = str(entry.get("content") or "")
                if p.switch("Raw"):
                    out.append(text)
                else:
                    lines = text.replace("\r\n", "\n").split("\n")
                    if lines and lines[-1] == "":
                        lines.pop()
                    out += lines
    return out


@cmdlet("Set-Content")
def set_content(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    lines = _text_lines(p.get("Value"))
    text = "\r\n".join(lines) + ("" if p.switch("NoNewline") else "\r\n")
    with ctx.world.transaction():
        h = ctx.host()
        for path in _paths(ctx, p):
            par = files.parent(path)
            if par is not None and files.get(h, par) is None:
                raise CmdletError(f"Could not find a part of the path '{path}'.", "GetContentWriterDirectoryNotFoundError",
                                  category="ObjectNotFound", target=path,
                                  exception_type="System.IO.DirectoryNotFoundException")
            files.put_file(h, path, len(text.encode("utf-8")), content=text)
        cluster.sync_csv_files(ctx.world)
    return []


# Minimal Copy-Item (one file, or a folder with -Recurse) for the nested lab: a copied VHDX keeps its
# "vhd" metadata, so the copy holds the same volume (and, as a byte copy does, the same DiskIdentifier).
# A disk held open read-write (mounted, or the disk of a VM that is not Off) cannot be read.
@cmdlet("Copy-Item")
def copy_item(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    import copy as _copy

    out = []
    with ctx.world.transaction():
        h = ctx.host()
        dest_root = _absolute(ctx, p["Destination"]) if p.get("Destination") else None
        for path in _paths(ctx, p):
            entries = _literal(h, path) if p.get("LiteralPath") else _expand(h, path)
            if entries is None:
                raise _not_found(path)
            for entry in entries:
                dest_dir = files.get(h, dest_root) if dest_root else None
                target = files.normalize(dest_root + "\\" + files.leaf(entry["path"])) \
                    if dest_dir is not None and dest_dir["kind"] == "dir" else dest_root
                if target is None:
                    raise CmdletError("hvsim's Copy-Item needs -Destination.", "NotImplemented",
                                      category="NotImplemented", terminating=True)
                items = [entry] + (sorted(files.descendants(h, entry["path"]), key=lambda e: e["path"].lower())
                                   if entry["kind"] == "dir" and p.switch("Recurse") else [])
                for item in items:
                    if item.get("vhd") and (_held_open(h, item["path"])):
                        raise CmdletError(f"The process cannot access the file '{item['path']}' because it is being "
                                          "used by another process.", "CopyFileInfoItemIOError", category="WriteError",
                                          target=item["path"], exception_type="System.IO.IOException")
                    dest = target + item["path"][len(entry["path"]):]
                    if item["kind"] == "dir":
                        files.ensure_dir(h, dest)
                        continue
                    par = files.parent(dest)
                    if par is not None and files.get(h, par) is None:
                        raise CmdletError(f"Could not find a part of the path '{dest}'.", "CopyFileInfoItemIOError",
                                          category="WriteError", target=dest,
                                          exception_type="System.IO.DirectoryNotFoundException")
                    extra = {k: _copy.deepcopy(v) for k, v in item.items() if k not in ("path", "kind", "size", "mtime")}
                    new = files.put_file(h, dest, int(item.get("size", 0)), **extra)
                    if p.switch("PassThru"):
                        out.append(item_object(new))
        cluster.sync_csv_files(ctx.world)
    ctx.sleep(1)
    return out


def _held_open(h: dict, path: str) -> bool:
    disk = nested.mounted_disk(h, path)
    if disk is not None and not disk.get("read_only"):
        return True
    return any(vm["state"] != "Off" and vm["hard_drives"] and files.key(vm["hard_drives"][0]["path"]) == files.key(path)
               for vm in nested._hv.state_of(h)["vms"].values())
