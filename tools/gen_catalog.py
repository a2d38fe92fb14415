#!/usr/bin/env python3
"""Generate hvsim's cmdlet catalog (hvsim/cmdlets/catalog/<Module>.json) from Microsoft's docs.

Sources (git directories without a work tree, read with `git show <commit>:<path>`):
  --winserver-docs  a clone of MicrosoftDocs/windows-powershell-docs (docset/winserver2022-ps/<Module>/<Cmdlet>.md)
  --ps-docs         a clone of MicrosoftDocs/PowerShell-Docs (reference/5.1/<Module>/<Cmdlet>.md)

Each doc's SYNTAX blocks give the parameter sets and, per set, which parameters are mandatory
(not in brackets) and positional (`[-Name] <T>`); the PARAMETERS section gives each parameter's type,
aliases, accepted values, position and pipeline input per parameter set. Every entry records its
source path and the docs commit. Usage:

  python tools/gen_catalog.py --winserver-docs /path/windows-powershell-docs/repo \
      --ps-docs /path/PowerShell-Docs/repo [--out hvsim/cmdlets/catalog]
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

WINSERVER_REPO = "MicrosoftDocs/windows-powershell-docs"
PS_REPO = "MicrosoftDocs/PowerShell-Docs"

# module -> (docs repo, directory in that repo, cmdlets). Keep in step with docs/DESIGN.md section 8.
MODULES: dict[str, tuple[str, str, list[str]]] = {
    "ServerManager": (WINSERVER_REPO, "docset/winserver2022-ps/ServerManager",
                      ["Get-WindowsFeature", "Install-WindowsFeature", "Uninstall-WindowsFeature"]),
    "Microsoft.PowerShell.Management": (PS_REPO, "reference/5.1/Microsoft.PowerShell.Management", [
        "Add-Computer", "Remove-Computer", "Restart-Computer", "Get-Service", "Set-Service", "Start-Service",
        "Stop-Service", "Get-Item", "Get-ChildItem", "New-Item", "Remove-Item", "Test-Connection",
        "Get-Content", "Set-Content", "Copy-Item", "Get-TimeZone", "Set-TimeZone"]),
    "CimCmdlets": (PS_REPO, "reference/5.1/CimCmdlets", ["Get-CimInstance"]),
    "Microsoft.WSMan.Management": (PS_REPO, "reference/5.1/Microsoft.WSMan.Management",
                                   ["Enable-WSManCredSSP", "Disable-WSManCredSSP", "Get-WSManCredSSP"]),
    "Microsoft.PowerShell.Core": (PS_REPO, "reference/5.1/Microsoft.PowerShell.Core", ["Invoke-Command", "Enable-PSRemoting", "New-PSSession", "Remove-PSSession"]),
    "NetAdapter": (WINSERVER_REPO, "docset/winserver2022-ps/NetAdapter", ["Get-NetAdapter", "Rename-NetAdapter"]),
    "NetTCPIP": (WINSERVER_REPO, "docset/winserver2022-ps/NetTCPIP", ["Get-NetIPAddress", "New-NetIPAddress",
                                                                      "Remove-NetIPAddress"]),
    "IscsiTarget": (WINSERVER_REPO, "docset/winserver2022-ps/IscsiTarget", [
        "Get-IscsiServerTarget", "New-IscsiServerTarget", "Set-IscsiServerTarget", "Remove-IscsiServerTarget",
        "Get-IscsiVirtualDisk", "New-IscsiVirtualDisk", "Import-IscsiVirtualDisk", "Resize-IscsiVirtualDisk",
        "Remove-IscsiVirtualDisk",
        "Add-IscsiVirtualDiskTargetMapping", "Remove-IscsiVirtualDiskTargetMapping"]),
    "iSCSI": (WINSERVER_REPO, "docset/winserver2022-ps/iSCSI", [
        "Get-IscsiTargetPortal", "New-IscsiTargetPortal", "Remove-IscsiTargetPortal",
        "Update-IscsiTargetPortal", "Get-IscsiTarget", "Connect-IscsiTarget", "Disconnect-IscsiTarget",
        "Get-IscsiSession", "Register-IscsiSession", "Unregister-IscsiSession"]),
    "Storage": (WINSERVER_REPO, "docset/winserver2022-ps/Storage", [
        "Get-InitiatorPort", "Get-Disk", "Set-Disk", "Initialize-Disk", "Clear-Disk", "Get-Partition", "New-Partition", "Get-Volume",
        "Format-Volume", "Update-HostStorageCache", "Get-PartitionSupportedSize", "Resize-Partition"]),
    "FailoverClusters": (WINSERVER_REPO, "docset/winserver2022-ps/FailoverClusters", [
        "Test-Cluster", "New-Cluster", "Get-Cluster", "Remove-Cluster", "Get-ClusterNode", "Add-ClusterNode",
        "Remove-ClusterNode", "Get-ClusterAvailableDisk", "Add-ClusterDisk", "Get-ClusterResource",
        "Remove-ClusterResource", "Get-ClusterParameter", "Get-ClusterQuorum", "Set-ClusterQuorum",
        "Get-ClusterSharedVolume", "Add-ClusterSharedVolume", "Remove-ClusterSharedVolume", "Get-ClusterGroup",
        "Start-ClusterGroup", "Stop-ClusterGroup", "Remove-ClusterGroup", "Move-ClusterGroup",
        "Add-ClusterVirtualMachineRole", "Move-ClusterVirtualMachineRole", "Get-ClusterOwnerNode",
        "Set-ClusterOwnerNode"]),
    "Hyper-V": (WINSERVER_REPO, "docset/winserver2022-ps/Hyper-V", [
        "Get-VMSwitch", "New-VMSwitch", "Remove-VMSwitch", "Get-VM", "New-VM", "Set-VM", "Start-VM", "Stop-VM",
        "Remove-VM", "Get-VMNetworkAdapter", "Connect-VMNetworkAdapter", "Get-VMHardDiskDrive", "Get-VHD",
        "Set-VMProcessor", "Set-VMMemory", "Move-VM", "Get-VMProcessor", "Set-VMNetworkAdapter",
        "Add-VMNetworkAdapter", "New-VHD", "Mount-VHD", "Dismount-VHD"]),
    "ADDSDeployment": (WINSERVER_REPO, "docset/winserver2022-ps/ADDSDeployment",
                       ["Install-ADDSForest", "Uninstall-ADDSDomainController"]),
    "ActiveDirectory": (WINSERVER_REPO, "docset/winserver2022-ps/ActiveDirectory", ["Get-ADDomain", "Get-ADForest"]),
    "NetConnection": (WINSERVER_REPO, "docset/winserver2022-ps/NetConnection", ["Get-NetConnectionProfile",
                                                                                "Set-NetConnectionProfile"]),
    "DnsClient": (WINSERVER_REPO, "docset/winserver2022-ps/DnsClient", ["Resolve-DnsName", "Get-DnsClientServerAddress",
                                                                        "Set-DnsClientServerAddress"]),
    "NetSecurity": (WINSERVER_REPO, "docset/winserver2022-ps/NetSecurity", [
        "Get-NetFirewallRule", "Enable-NetFirewallRule", "New-NetFirewallRule", "Remove-NetFirewallRule",
        "Get-NetFirewallPortFilter", "Get-NetFirewallProfile"]),
}

# The .NET class behind compiled (non-CDXML) cmdlets: Windows puts it in FullyQualifiedErrorId
# ("NamedParameterNotFound,Microsoft.PowerShell.Commands.GetServiceCommand"). CDXML cmdlets use their name.
# module -> (namespace, suffix); ServerManager's Install/Uninstall are the Add/Remove classes.
IMPLEMENTING_NAMESPACE = {
    "ServerManager": ("Microsoft.Windows.ServerManager.Commands", "Command"),
    "Microsoft.PowerShell.Management": ("Microsoft.PowerShell.Commands", "Command"),
    "Microsoft.PowerShell.Core": ("Microsoft.PowerShell.Commands", "Command"),
    "CimCmdlets": ("Microsoft.Management.Infrastructure.CimCmdlets", "Command"),
    "Microsoft.WSMan.Management": ("Microsoft.WSMan.Management", "Command"),
    "FailoverClusters": ("Microsoft.FailoverClusters.PowerShell", "Command"),
    "Hyper-V": ("Microsoft.HyperV.PowerShell.Commands", ""),
    "IscsiTarget": ("Microsoft.Iscsi.Target.Commands", "Command"),
    "ADDSDeployment": ("Microsoft.DirectoryServices.Deployment.PowerShell.Commands", "Command"),
    "ActiveDirectory": ("Microsoft.ActiveDirectory.Management.Commands", ""),
    "DnsClient": ("Microsoft.DnsClient.Commands", ""),
}
CLASS_VERB = {("ServerManager", "Install"): "Add", ("ServerManager", "Uninstall"): "Remove"}

SHOULD_PROCESS = {"WhatIf", "Confirm"}
TYPE_PREFIXES = ("System.Management.Automation.", "System.")


def git_show(repo: Path, commit: str, path: str) -> str | None:
    res = subprocess.run(["git", "-C", str(repo), "show", f"{commit}:{path}"], capture_output=True)
    return res.stdout.decode("utf-8") if res.returncode == 0 else None


def git_head(repo: Path) -> str:
    return subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()


_CANONICAL = {"string": "String", "int": "Int32", "int32": "Int32", "uint": "UInt32", "uint32": "UInt32",
              "long": "Int64", "int64": "Int64", "uint64": "UInt64", "bool": "Boolean", "boolean": "Boolean",
              "pscredential": "PSCredential", "switch": "SwitchParameter", "hashtable": "Hashtable",
              "object": "Object", "uri": "Uri", "scriptblock": "ScriptBlock", "psobject": "PSObject"}


def norm_type(t: str) -> str:
    t = t.strip()
    arr = "[]" if t.endswith("[]") else ""
    if t[: len(t) - len(arr)].lower() in _CANONICAL:
        return _CANONICAL[t[: len(t) - len(arr)].lower()] + arr
    for p in TYPE_PREFIXES:
        if t.startswith(p) and "." not in t[len(p):].replace("[]", ""):
            return t[len(p):]
    if t.startswith("Microsoft.Management.Infrastructure.CimInstance"):
        return "CimInstance" + ("[]" if t.endswith("[]") else "")
    return t


def sections(text: str, level: str) -> list[tuple[str, str]]:
    """[(heading, body)] for headings of exactly `level` ('##' or '###')."""
    parts = re.split(rf"(?m)^{level} (.+)$", text)
    return [(parts[i].strip(), parts[i + 1]) for i in range(1, len(parts) - 1, 2)]


def section(text: str, title: str) -> str:
    for head, body in sections(text, "##"):
        if head.upper() == title:
            return body
    return ""


_ELEM = re.compile(
    r"\[\[-(?P<a>[\w]+)\]\s*<(?P<at>[^>]+)>\]"      # [[-Name] <T>]   optional, positional
    r"|\[-(?P<b>[\w]+)\]\s*<(?P<bt>[^>]+)>"         # [-Name] <T>     mandatory, positional
    r"|\[-(?P<c>[\w]+)\s+<(?P<ct>[^>]+)>\]"         # [-Name <T>]     optional, named
    r"|\[-(?P<d>[\w]+)\]"                          # [-Switch]       optional switch
    r"|-(?P<e>[\w]+)\s+<(?P<et>[^>]+)>"             # -Name <T>       mandatory, named
    r"|(?<![\w-])-(?P<f>[\w]+)")                   # -Switch         mandatory switch


def parse_syntax_line(text: str, cmdlet: str) -> list[dict]:
    """Parameters of one syntax block in order: name, type, mandatory, positional."""
    body = " ".join(text.split())
    if body.lower().startswith(cmdlet.lower()):
        body = body[len(cmdlet):]
    out = []
    for m in _ELEM.finditer(body):
        g = m.groupdict()
        if g["a"]:
            out.append({"name": g["a"], "type": g["at"], "mandatory": False, "positional": True})
        elif g["b"]:
            out.append({"name": g["b"], "type": g["bt"], "mandatory": True, "positional": True})
        elif g["c"]:
            out.append({"name": g["c"], "type": g["ct"], "mandatory": False, "positional": False})
        elif g["d"]:
            out.append({"name": g["d"], "type": "SwitchParameter", "mandatory": False, "positional": False})
        elif g["e"]:
            out.append({"name": g["e"], "type": g["et"], "mandatory": True, "positional": False})
        elif g["f"]:
            out.append({"name": g["f"], "type": "SwitchParameter", "mandatory": True, "positional": False})
    return out


def parse_syntax(text: str, cmdlet: str) -> tuple[list[tuple[str, list[dict]]], str | None]:
    """[(set name, params)], default set. A doc without set headings has one set, __AllParameterSets."""
    syn = section(text, "SYNTAX")
    sets: list[tuple[str, list[dict]]] = []
    default = None
    subs = sections(syn, "###")
    blocks = subs if subs else [("__AllParameterSets", syn)]
    # Provider cmdlets (Get-Item, New-Item...) document one block per provider: keep the FileSystem
    # provider's block of each set, else the "All providers" one, else an untagged one.
    chosen: dict[str, tuple[int, bool, str]] = {}
    order: list[str] = []
    for head, body in blocks:
        m = re.search(r"```[^\n]*\n(.*?)```", body, re.S)
        if not m:
            continue
        name, _, provider = head.partition(" - ")
        provider = provider.strip().lower()
        rank = {"filesystem provider": 0, "all providers": 1, "": 2}.get(provider)
        if rank is None:
            continue
        is_default = "(Default)" in name
        name = name.replace("(Default)", "").strip()
        if name not in chosen:
            order.append(name)
        if name not in chosen or rank < chosen[name][0]:
            chosen[name] = (rank, is_default, m.group(1))
    for name in order:
        _, is_default, text = chosen[name]
        if is_default:
            default = name
        sets.append((name, parse_syntax_line(text, cmdlet)))
    if len(sets) == 1:
        default = sets[0][0]
    return sets, default


def parse_yaml_block(block: str) -> dict[str, str]:
    out = {}
    for line in block.splitlines():
        if ":" in line:
            k, _, v = line.partition(":")
            out[k.strip()] = v.strip()
    return out


def parse_parameters(text: str) -> dict[str, list[dict[str, str]]]:
    """name -> yaml blocks (several when a parameter differs between parameter sets)."""
    params: dict[str, list[dict[str, str]]] = {}
    for head, body in sections(section(text, "PARAMETERS"), "###"):
        if not head.startswith("-"):
            continue
        name = head[1:].strip()
        blocks = [parse_yaml_block(b) for b in re.findall(r"```yaml\s*\n(.*?)```", body, re.S)]
        params[name] = blocks
    return params


def parse_pipeline(text: str) -> tuple[bool, bool]:
    t = text.lower()
    if not t.startswith("true"):
        return False, False
    by_value = "byvalue" in t
    by_prop = "bypropertyname" in t
    if not by_value and not by_prop:
        by_value = True
    return by_value, by_prop


def split_list(v: str) -> list[str]:
    return [x.strip() for x in v.split(",") if x.strip() and x.strip().lower() != "none"]


def implementing_type(module: str, cmdlet: str, help_file: str) -> str:
    if "cdxml" in help_file.lower() or module not in IMPLEMENTING_NAMESPACE:
        return cmdlet
    ns, suffix = IMPLEMENTING_NAMESPACE[module]
    verb, _, noun = cmdlet.partition("-")
    verb = CLASS_VERB.get((module, verb), verb)
    return f"{ns}.{verb}{noun}{suffix}"


def build_entry(module: str, cmdlet: str, text: str, repo_name: str, path: str, commit: str) -> dict:
    front = parse_yaml_block(text.split("---")[1]) if text.startswith("---") else {}
    sets, default = parse_syntax(text, cmdlet)
    yaml_params = parse_parameters(text)
    set_names = [s for s, _ in sets]
    params: dict[str, dict] = {}
    supports_sp = False
    for set_name, plist in sets:
        for ordinal, sp in enumerate(plist):
            name = sp["name"]
            if name in SHOULD_PROCESS:
                supports_sp = True
                continue
            blocks = yaml_params.get(name, [])
            block = {}
            for b in blocks:
                ps = [x.strip() for x in b.get("Parameter Sets", "(All)").split(",")]
                if "(All)" in ps or set_name in ps or (set_name == "__AllParameterSets"):
                    block = b
                    break
            if not block and blocks:
                block = blocks[0]
            entry = params.setdefault(name, {
                "type": norm_type(block.get("Type") or sp["type"]),
                "aliases": split_list(block.get("Aliases", "")),
                "accepted_values": split_list(block.get("Accepted values", "")),
                "sets": {},
            })
            position = None
            if sp["positional"]:
                pos = block.get("Position", "")
                position = int(pos) if pos.isdigit() else sum(1 for q in plist[:ordinal] if q["positional"])
            by_value, by_prop = parse_pipeline(block.get("Accept pipeline input", "False"))
            entry["sets"][set_name] = {
                "mandatory": sp["mandatory"],
                "position": position,
                "value_from_pipeline": by_value,
                "value_from_pipeline_by_property_name": by_prop,
            }
    for set_name, plist in sets:
        # Some docs give every positional parameter "Position: 0" (Invoke-Command's ScriptBlock);
        # where positions collide within a set, the order in the syntax block decides.
        positional = [q["name"] for q in plist if q["positional"] and q["name"] in params]
        numbers = [params[n]["sets"][set_name]["position"] for n in positional]
        if len(set(numbers)) != len(numbers):
            for i, n in enumerate(positional):
                params[n]["sets"][set_name]["position"] = i
    for name in yaml_params:
        if name in SHOULD_PROCESS:
            supports_sp = True
    outputs = [h for h, _ in sections(section(text, "OUTPUTS"), "###")]
    return {
        "name": cmdlet,
        "module": module,
        "implementing_type": implementing_type(module, cmdlet, front.get("external help file", "")),
        "default_parameter_set": default or (set_names[0] if set_names else "__AllParameterSets"),
        "parameter_sets": set_names,
        "supports_should_process": supports_sp,
        "parameters": params,
        "outputs": outputs,
        "source": {"repo": repo_name, "path": path, "commit": commit},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--winserver-docs", required=True, type=Path)
    ap.add_argument("--ps-docs", type=Path, help="needed unless --only names winserver modules alone")
    ap.add_argument("--only", action="append", default=[], metavar="MODULE",
                    help="regenerate just this module's file (repeatable); the others stay as they are")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "hvsim/cmdlets/catalog")
    args = ap.parse_args(argv)
    repos = {WINSERVER_REPO: args.winserver_docs, PS_REPO: args.ps_docs}
    modules = {m: MODULES[m] for m in (args.only or MODULES)}
    needed = {repo for repo, _, _ in modules.values()}
    if any(repos[r] is None for r in needed):
        ap.error("--ps-docs is required for the modules asked for")
    commits = {name: git_head(repos[name]) for name in needed}
    args.out.mkdir(parents=True, exist_ok=True)
    missing = []
    for module, (repo_name, directory, cmdlets) in modules.items():
        entries = {}
        for cmdlet in cmdlets:
            path = f"{directory}/{cmdlet}.md"
            text = git_show(repos[repo_name], commits[repo_name], path)
            if text is None:
                missing.append(path)
                continue
            entries[cmdlet] = build_entry(module, cmdlet, text, repo_name, path, commits[repo_name])
        doc = {"module": module, "generated_by": "tools/gen_catalog.py", "cmdlets": entries}
        (args.out / f"{module}.json").write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        print(f"{module}: {len(entries)} cmdlets")
    if missing:
        print("missing docs (write these entries by hand):", *missing, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
