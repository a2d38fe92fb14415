"""Helpers (no tests) for the storage/iSCSI tests: a small lab World and a registry-level cmdlet runner."""
from __future__ import annotations

from typing import Any

from hvsim.cmdlets import registry
from hvsim.cmdlets.registry import Arg, CmdletContext, Session
from hvsim.world import World, files

LAB = {
    "time_factor": 0.0,
    "domain": {"fqdn": "hyper.local", "netbios": "HYPER", "controller": "DC01",
               "users": {"Administrator": {"password": "pw"}}},
    "hosts": {
        "DC01": {"domain_member": True, "features": ["AD-Domain-Services", "DNS"],
                 "nics": [{"name": "Ethernet", "ipv4": "192.168.10.10"}]},
        "HV01": {"domain_member": True, "nics": [{"name": "Ethernet", "ipv4": "192.168.10.11"},
                                                 {"name": "Ethernet 2", "ipv4": "192.168.20.11"}]},
        "HV02": {"domain_member": True, "nics": [{"name": "Ethernet", "ipv4": "192.168.10.12"}]},
    },
}
SWITCH = object()  # run(..., UseFixed=SWITCH) passes a bare switch (-UseFixed)
TARGET_IQN = "iqn.1991-05.com.microsoft:dc01-cluster-target"


def make_world(tmp_path, *, target_server: bool = True, initiators_running: bool = True) -> World:
    world = World(tmp_path / "state", lab=LAB, time_factor=0.0)
    with world.transaction() as data:
        if target_server:
            dc = data["hosts"]["DC01"]
            dc["features"]["FS-iSCSITarget-Server"] = {"state": "Installed"}
            dc["services"]["WinTarget"] = {"display_name": "Microsoft iSCSI Software Target",
                                           "status": "Running", "start_type": "Automatic"}
            files.ensure_dir(dc, "C:\\iSCSIVirtualDisks")
        if initiators_running:
            for name in ("HV01", "HV02"):
                data["hosts"][name]["services"]["MSiSCSI"].update(status="Running", start_type="Automatic")
    return world


def run_ctx(world: World, host: str, command: str, *positional: Any, _pipeline: list | None = None,
            _delegate: bool = False, **named: Any) -> tuple[list, CmdletContext]:
    """Invoke an emulated cmdlet through the registry as `command -Name value ...` on host, as
    HYPER\\Administrator over NTLM (or, with _delegate, a CredSSP session that may delegate);
    returns (output, the context with its warnings)."""
    info = registry.lookup(command)
    assert info is not None, f"{command} is not emulated"
    args = [Arg(None, v) for v in positional]
    for name, value in named.items():
        args.append(Arg(name, True, switch=True) if value is SWITCH else Arg(name, value))
    session = Session(host=host, user="HYPER\\Administrator", auth="credssp" if _delegate else "ntlm",
                      can_delegate=_delegate)
    ctx = CmdletContext(world=world, session=session)
    return registry.invoke(info, ctx, args, _pipeline), ctx


def run(world: World, host: str, command: str, *positional: Any, _pipeline: list | None = None, **named: Any) -> list:
    """run_ctx's output only, in a plain (non-delegating) session."""
    return run_ctx(world, host, command, *positional, _pipeline=_pipeline, **named)[0]


def build_lab_storage(world: World) -> None:
    """The LAB.md step 5/6 sequence on DC01, then both nodes connect persistently."""
    run(world, "DC01", "New-IscsiVirtualDisk", Path="C:\\iSCSIVirtualDisks\\quorum.vhdx", SizeBytes=1 << 30)
    run(world, "DC01", "New-IscsiVirtualDisk", Path="C:\\iSCSIVirtualDisks\\storage.vhdx", SizeBytes=40 << 30)
    run(world, "DC01", "New-IscsiServerTarget", TargetName="Cluster",
        InitiatorIds=["DNSName:hv01.hyper.local", "DNSName:hv02.hyper.local"])
    run(world, "DC01", "Add-IscsiVirtualDiskTargetMapping", TargetName="Cluster",
        Path="C:\\iSCSIVirtualDisks\\quorum.vhdx")
    run(world, "DC01", "Add-IscsiVirtualDiskTargetMapping", TargetName="Cluster",
        Path="C:\\iSCSIVirtualDisks\\storage.vhdx")
    for node in ("HV01", "HV02"):
        run(world, node, "New-IscsiTargetPortal", TargetPortalAddress="dc01.hyper.local")
        run(world, node, "Connect-IscsiTarget", NodeAddress=TARGET_IQN, IsPersistent=True)
