"""Emulated cmdlets: Get-Item, Get-ChildItem, New-Item, Remove-Item, Copy-Item, Get-Content and
Set-Content on a host's files (FileSystem provider).

The files live in the world (`host["files"]`, see hvsim/world/files.py). Objects are FileInfo /
DirectoryInfo with their usual properties; with -Path, wildcards (* ? [ ]) work in the last path
component, with -LiteralPath every character is literal (a folder named 'lab [1]').

A text file keeps its text in the entry's "content" (Set-Content, New-Item -Value) and its size in the
encoding written (Windows PowerShell 5.1's default for Set-Content is the ANSI code page). A file with no
"content" (a VHDX, a .vmcx) holds data hvsim does not keep: Get-Content refuses it rather than invent
bytes. Copy-Item copies the whole entry, metadata included (a VHDX keeps its "vhd" record). A running VM's
virtual disk is open in Hyper-V: Copy-Item and Remove-Item of it fail ("being used by another process").
"""
from __future__ import annotations

import copy
import fnmatch
from typing import Any, Iterable

from hvsim.powershell.values import PSObject
from hvsim.world import cluster, files, hyperv, nested
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


def _in_use(path: str) -> str:
    # a running VM's virtual disk: Hyper-V holds the file open (hvsim.world.hyperv.disk_in_use)
    return f"The process cannot access the file '{path}' because it is being used by another process."


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
            text = "" if value is None else str(value)
            out.append(item_object(files.put_file(h, path, len(_encode(text, None)), content=text)))
        cluster.sync_csv_files(ctx.world)   # a file on a CSV is there for every node at once
    return out


def _disk_held(world: Any, h: dict, path: str, for_delete: bool) -> bool:
    """Whether a virtual disk is open: a running VM's disk (for a CSV file, on any node), or a VHD mounted
    on the host. A mount read-only and the parent of a running differencing disk are open for reading
    only: they can be copied, not deleted."""
    if hyperv.disk_in_use(world, h, path) is not None:
        return True
    mounted = nested.mounted_disk(h, path)
    if mounted is not None and (for_delete or not mounted.get("read_only")):
        return True
    return for_delete and nested.in_use_by_vm(h, path) is not None


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
                for item in [entry] + files.descendants(h, entry["path"]):
                    if item["kind"] == "file" and _disk_held(ctx.world, h, item["path"], for_delete=True):
                        raise CmdletError(f"Cannot remove item {item['path']}: {_in_use(item['path'])}",
                                          "RemoveFileSystemItemIOError", category="WriteError", target=item["path"],
                                          exception_type="System.IO.IOException")
                files.remove(h, entry["path"], recurse=True)
        cluster.sync_csv_files(ctx.world)   # gone from the CSV for every node at once
    return []


# ----------------------------------------------------------------------------- content
_ENCODINGS = {"ascii": ("ascii", b""), "bigendianunicode": ("utf-16-be", b"\xfe\xff"),
              "bigendianutf32": ("utf-32-be", b"\x00\x00\xfe\xff"), "default": ("cp1252", b""),
              "oem": ("cp437", b""), "string": ("utf-16-le", b"\xff\xfe"), "unicode": ("utf-16-le", b"\xff\xfe"),
              "unknown": ("utf-16-le", b"\xff\xfe"), "utf7": ("utf-7", b""), "utf8": ("utf-8", b"\xef\xbb\xbf"),
              "utf32": ("utf-32-le", b"\xff\xfe\x00\x00")}


def _encode(text: str, encoding: Any) -> bytes:
    """The bytes Windows PowerShell 5.1 writes (with its byte order mark; ANSI by default)."""
    codec, bom = _ENCODINGS.get(str(encoding or "Default").lower(), _ENCODINGS["default"])
    return bom + text.encode(codec, errors="replace")


def _file_entries(ctx: CmdletContext, h: dict, p: BoundParameters) -> list[dict]:
    out = []
    for path in _paths(ctx, p):
        entries = _literal(h, path) if p.get("LiteralPath") else _expand(h, path)
        if entries is None:
            raise _not_found(path)
        out += entries
    return out


@cmdlet("Get-Content")
def get_content(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    out: list = []
    with ctx.world.read():
        h = ctx.host()
        for entry in _file_entries(ctx, h, p):
            if entry["kind"] == "dir":
                raise CmdletError(f"Unable to get content because it is a directory: '{entry['path']}'. Please use "
                                  "'Get-ChildItem' instead.", "GetContainerContentException",
                                  category="InvalidOperation", target=entry["path"],
                                  exception_type="System.Management.Automation.PSInvalidOperationException")
            if "content" not in entry and int(entry.get("size", 0)):
                raise CmdletError(f"hvsim keeps no content for '{entry['path']}' (binary data).", "NotImplemented",
                                  category="NotImplemented", target=entry["path"])
            text = str(entry.get("content", ""))
            if p.switch("Raw"):
                if text:
                    out.append(text)
                continue
            lines = text.replace("\r\n", "\n").split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            if p.get("TotalCount") is not None and int(p["TotalCount"]) >= 0:
                lines = lines[:int(p["TotalCount"])]
            out += lines
    return out


@cmdlet("Set-Content")
def set_content(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    values = ["" if v is None else str(v) for v in (p.get("Value") or [])]
    text = "".join(values) if p.switch("NoNewline") else "".join(v + "\r\n" for v in values)
    data = _encode(text, p.get("Encoding"))
    with ctx.world.transaction():
        h = ctx.host()
        targets = []
        for path in _paths(ctx, p):
            entries = _literal(h, path) if p.get("LiteralPath") else _expand(h, path)
            targets += [e["path"] for e in entries] if entries else ([] if has_wildcard(files.leaf(path)) and
                                                                      not p.get("LiteralPath") else [path])
        for path in targets:
            existing = files.get(h, path)
            if existing is not None and existing["kind"] == "dir":
                raise CmdletError(f"Access to the path '{path}' is denied.", "GetContentWriterUnauthorizedAccessError",
                                  category="PermissionDenied", target=path,
                                  exception_type="System.UnauthorizedAccessException")
            par = files.parent(path)
            if par is not None and files.get(h, par) is None:
                raise CmdletError(f"Could not find a part of the path '{path}'.",
                                  "GetContentWriterDirectoryNotFoundError", category="ObjectNotFound", target=path,
                                  exception_type="System.IO.DirectoryNotFoundException")
            files.put_file(h, path, len(data), content=text)
        cluster.sync_csv_files(ctx.world)
    return values if p.switch("PassThru") else []


@cmdlet("Copy-Item")
def copy_item(ctx: CmdletContext, p: BoundParameters) -> Iterable[Any]:
    out: list = []
    copied = 0
    with ctx.world.transaction():
        h = ctx.host()
        sources = _file_entries(ctx, h, p)
        raw_dest = p.get("Destination")
        dest = _absolute(ctx, raw_dest) if raw_dest else None
        for entry in sources:
            target = dest or files.normalize(f"C:\\Users\\{ctx.session.user.split(chr(92))[-1]}\\Documents")
            existing = files.get(h, target)
            if existing is not None and existing["kind"] == "dir" and \
                    files.key(target) != files.key(entry["path"]):
                target = files.normalize(target + "\\" + files.leaf(entry["path"]))
            if files.key(target) == files.key(entry["path"]):
                raise CmdletError(f"Cannot overwrite the item {entry['path']} with itself.", "CopyError",
                                  category="WriteError", target=entry["path"],
                                  exception_type="System.IO.IOException")
            par = files.parent(target)
            if par is not None and files.get(h, par) is None:
                raise CmdletError(f"Could not find a part of the path '{target}'.",
                                  "System.IO.DirectoryNotFoundException", category="WriteError", target=target,
                                  exception_type="System.IO.DirectoryNotFoundException")
            items = [entry] + (sorted(files.descendants(h, entry["path"]), key=lambda e: e["path"].lower())
                               if entry["kind"] == "dir" and p.switch("Recurse") else [])
            for item in items:
                if item["kind"] == "file" and _disk_held(ctx.world, h, item["path"], for_delete=False):
                    raise CmdletError(_in_use(item["path"]), "System.IO.IOException", category="NotSpecified",
                                      target=item["path"], exception_type="System.IO.IOException")
                rel = item["path"][len(entry["path"]):]
                new_path = files.normalize(target + rel)
                if item["kind"] == "dir":
                    made = files.ensure_dir(h, new_path)
                else:
                    extra = {k: copy.deepcopy(v) for k, v in item.items() if k not in ("path", "kind", "size")}
                    made = files.put_file(h, new_path, int(item.get("size", 0)), **extra)
                    copied += int(item.get("size", 0))
                if p.switch("PassThru"):
                    out.append(item_object(made))
        cluster.sync_csv_files(ctx.world)
    ctx.sleep(copied / COPY_BYTES_PER_SECOND)
    return out


COPY_BYTES_PER_SECOND = 500 * 1024 * 1024   # a local disk-to-disk copy
