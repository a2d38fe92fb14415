"""LabMachine: a VM on a Hyper-V host that becomes one of the lab's Windows servers, so that the whole
lab (DC01, HV01, HV02) can live on one machine with Hyper-V and ``pulumi destroy`` leaves nothing.

Inputs (``LabMachineArgs``)              diff
    connection            ConnectionArgs   host: replace; other fields: update. WinRM to the Hyper-V host
                                           that carries the VM (a local administrator there)
    name                  str              replace. The VM's name and the guest's computer name (NetBIOS:
                                           1-15 letters, digits, '-')
    image_path            str              replace. A generalized (sysprepped) Windows VHDX on the host,
                                           e.g. C:\\Images\\WS2022-Sysprep.vhdx
    disk_mode             str = differencing  replace. "differencing" (a child disk of the image: fast,
                                           small; the image must then stay where it is, unchanged) or
                                           "copy" (a full copy)
    folder                str = C:\\Lab     replace. The VM lives in <folder>\\<name> (its configuration in
                                           "Virtual Machines", its disk in "Virtual Hard Disks\\<name>.vhdx")
    administrator_password secret          fixed after create. The guest's local Administrator password
                                           (written into the answer file; Windows' password policy)
    username              str              update. The account the machine's connection (and PowerShell
                                           Direct) uses; default "<name>\\Administrator". A machine that
                                           becomes a domain controller has no local accounts afterwards:
                                           give it "Administrator" (the domain's, same password)
    time_zone             str = UTC         update. A Windows time zone id (tzutil /l), e.g.
                                           "W. Europe Standard Time"
    memory_bytes          size = 4GB       update (the VM is shut down and started again). Static memory
    processor_count       int = 2          update (shut down and started again)
    nested_virtualization bool = False     update (shut down and started again). For a machine that
                                           becomes a Hyper-V host: virtualization extensions exposed, MAC
                                           address spoofing on; needs memory_bytes of 4GB or more
    network_adapters      list[dict]       the VM's adapters in order; a different number of adapters
                                           or another switch replaces the machine, the rest updates:
        switch            str              a virtual switch that exists on the host
        name              str              the adapter's name inside the guest (default: as Windows names
                                           it, "Ethernet", "Ethernet 2", ...)
        ip_address        str              its static IPv4 address; the first adapter's is the machine's
                                           WinRM address
        prefix_length     int = 24
        gateway           str | None
        dns_servers       list[str] = []   e.g. the domain controller's address
    state                 str = Running    update. "Running" or "Off": the VM's power state. A machine found off
                                           (a refresh reads it) is started again by the next `up`; "Off" shuts
                                           it down (after its first configuration, at create)
    boot_timeout          int = 1800       ignore. Seconds to wait for the first boot (Windows Setup's
                                           specialize and OOBE passes) and for restarts
Outputs: every input, plus ``vm_id``, ``vhd_paths`` and ``created_folders`` (what delete removes),
``mac_addresses`` (per adapter, as Hyper-V assigned them), ``winrm_address``,
``adopted``, ``last_changes``; and, on the resource object, ``machine_connection``: exactly the
``connection`` the other resources take (a secret Output, ready once the machine answers WinRM).

Create: refuses, before any change, a switch that does not exist, an image that is no VHDX, or a VM or
disk of that name it did not make; makes the disk, checks that it holds a generalized Windows, writes
the answer file into it, creates and starts the VM; waits for the first boot with progress; then, through
PowerShell Direct, sets each adapter's address (found by its MAC address), DNS servers, a Private network
profile, WinRM and the time zone, deletes the answer file; and finally checks that the machine answers
WinRM at its address. A failure before the VM exists removes what the run made; after that the VM is
recorded (the marker in its notes lets the next ``up`` adopt it) and the next ``up`` converges.

Delete: turns the VM off and removes it (by its recorded Id), then the disk files and folders create
made, each folder only once empty; the shared ``folder`` goes with the last machine in it when a
LabMachine created it (its marker file says so). Scripts: scripts/lab_machine.ps1 (host), scripts/lab_machine_guest.ps1
(guest, through PowerShell Direct).
"""
from __future__ import annotations

import json
import re
import time
from typing import Any, Mapping, Optional, Sequence

import pulumi
from pulumi.dynamic import CheckFailure, DiffResult

from . import errors, progress
from .base import HvProvider, HvResource
from .connection import CONNECTION_PROP, ConnectionArgs
from .domain_controller import dsrm_password
from .highly_available_vm import folder_path
from .validation import (Prop, contains_unknown, format_size, ipv4, is_unknown, netbios_name, nonempty,
                         number_between, require_unique, size_between, windows_path)

SCRIPT = "lab_machine.ps1"
GUEST_SCRIPT = "lab_machine_guest.ps1"
GB = 1024**3
NESTED_MIN_MEMORY = 4 * GB  # a Hyper-V host inside a VM: its own OS, the hypervisor, and room for a VM
_TIME_ZONE = re.compile(r"^[A-Za-z0-9 ().+_-]{1,64}$")
_CHANGES_NEED_OFF = ("memory_bytes", "processor_count", "nested_virtualization")


def image_path(v: str) -> str | None:
    err = windows_path(v)
    if err:
        return err
    if not v.lower().endswith(".vhdx"):
        return f"'{v}' must be a .vhdx file: a generation 2 VM boots from a VHDX (convert a .vhd with Convert-VHD)"
    return None


def time_zone(v: str) -> str | None:
    if not _TIME_ZONE.match(v):
        return f"'{v}' is not a Windows time zone id (see tzutil /l), e.g. 'UTC' or 'W. Europe Standard Time'"
    return None


def adapter_name(v: str) -> str | None:
    if not v.strip() or len(v) > 64 or any(c in v for c in '<>&"\\/:*?|') or any(ord(c) < 32 for c in v):
        return f"'{v}' is not a network adapter name: 1-64 characters without < > & \" \\ / : * ? |"
    return None


ADAPTER_FIELDS: tuple[Prop, ...] = (
    Prop("switch", "str", required=True, checks=(adapter_name,), doc="virtual switch on the Hyper-V host"),
    Prop("name", "str", checks=(adapter_name,), doc="the adapter's name in the guest"),
    Prop("ip_address", "str", required=True, checks=(ipv4,), doc="static IPv4 address"),
    Prop("prefix_length", "int", default=24, checks=(number_between(1, 32),), doc="subnet prefix length"),
    Prop("gateway", "str", checks=(ipv4,), doc="default gateway"),
    Prop("dns_servers", "list", default=list, items=(ipv4,), doc="DNS server addresses in order"),
)


class LabMachineArgs:
    """Inputs of a LabMachine (see the module docstring for every field)."""

    def __init__(self, connection: ConnectionArgs | pulumi.Input[dict], name: pulumi.Input[str],
                 image_path: pulumi.Input[str], administrator_password: pulumi.Input[str],
                 network_adapters: pulumi.Input[Sequence[dict]],
                 disk_mode: Optional[pulumi.Input[str]] = None,
                 folder: Optional[pulumi.Input[str]] = None,
                 username: Optional[pulumi.Input[str]] = None,
                 time_zone: Optional[pulumi.Input[str]] = None,
                 memory_bytes: Optional[pulumi.Input[Any]] = None,
                 processor_count: Optional[pulumi.Input[int]] = None,
                 nested_virtualization: Optional[pulumi.Input[bool]] = None,
                 boot_timeout: Optional[pulumi.Input[int]] = None) -> None:
        self.connection = connection
        self.name = name
        self.image_path = image_path
        self.administrator_password = administrator_password
        self.network_adapters = network_adapters
        self.disk_mode = disk_mode
        self.folder = folder
        self.username = username
        self.time_zone = time_zone
        self.memory_bytes = memory_bytes
        self.processor_count = processor_count
        self.nested_virtualization = nested_virtualization
        self.boot_timeout = boot_timeout


def _switches(adapters: Any) -> list:
    return [str(a.get("switch") or "").lower() for a in adapters or [] if isinstance(a, dict)]


class LabMachineProvider(HvProvider):
    RESOURCE = "LabMachine"
    SCRIPT = SCRIPT
    DELETE_BEFORE_REPLACE = True  # the replacement takes the same VM name, disk path and addresses
    SPEC = (
        CONNECTION_PROP,
        Prop("name", "str", required=True, checks=(netbios_name,), on_change="replace", case_insensitive=True,
             doc="VM name and the guest's computer name"),
        Prop("image_path", "str", required=True, checks=(image_path,), on_change="replace", case_insensitive=True,
             doc="generalized Windows VHDX on the Hyper-V host"),
        Prop("disk_mode", "str", default="differencing", choices=("differencing", "copy"), on_change="replace",
             doc="differencing child of the image, or a full copy"),
        Prop("folder", "str", default="C:\\Lab", checks=(folder_path,), on_change="replace", case_insensitive=True,
             doc="the VM lives in <folder>\\<name>"),
        Prop("administrator_password", "str", required=True, checks=(dsrm_password,), secret=True,
             on_change="ignore", doc="the guest's local Administrator password"),
        Prop("username", "str", checks=(nonempty,), doc="account of the machine's connection"),
        Prop("time_zone", "str", default="UTC", checks=(time_zone,), doc="Windows time zone id"),
        Prop("memory_bytes", "size", default="4GB", checks=(size_between(512 * 1024**2, 1024**4),),
             doc="static memory"),
        Prop("processor_count", "int", default=2, checks=(number_between(1, 64),), doc="virtual processors"),
        Prop("nested_virtualization", "bool", default=False, doc="the guest becomes a Hyper-V host"),
        Prop("network_adapters", "list", required=True, item_kind="dict", fields=ADAPTER_FIELDS,
             doc="the VM's adapters in order"),
        Prop("state", "str", default="Running", choices=("Running", "Off"), doc="the VM's power state"),
        Prop("boot_timeout", "int", default=1800, checks=(number_between(60, 7200),), on_change="ignore",
             doc="seconds to wait for the first boot and restarts"),
    )
    OUTPUTS = ("vm_id", "vhd_paths", "created_folders", "mac_addresses", "winrm_address", "adopted",
               "last_changes")
    # only a replacement (a new VM) changes these
    KEPT_OUTPUTS = {name: ("connection", "name", "image_path", "disk_mode", "folder")
                    for name in ("vm_id", "vhd_paths", "created_folders", "mac_addresses")}

    def check(self, olds: dict, news: dict):  # type: ignore[override]
        result = super().check(olds, news)
        inputs = result.inputs
        name = inputs.get("name")
        if not result.failures and not inputs.get("username") and isinstance(name, str) and not is_unknown(name):
            inputs["username"] = f"{name.upper()}\\Administrator"
        return result

    def check_more(self, olds: dict, news: dict) -> list[CheckFailure]:
        failures: list[CheckFailure] = []
        adapters = news.get("network_adapters")
        if isinstance(adapters, list) and not contains_unknown(adapters):
            if not adapters:
                failures.append(CheckFailure("network_adapters", "needs at least one adapter: the first one's "
                                             "ip_address is the machine's WinRM address"))
            named = [a.get("name") for a in adapters if isinstance(a, dict) and a.get("name")]
            failures += require_unique(named, "network_adapters[*].name") if named else []
            seen: dict[str, int] = {}
            for i, adapter in enumerate(adapters):
                address = adapter.get("ip_address") if isinstance(adapter, dict) else None
                if isinstance(address, str):
                    if address in seen:
                        failures.append(CheckFailure(f"network_adapters[{i}].ip_address", (
                            f"{address} is also network_adapters[{seen[address]}].ip_address")))
                    seen.setdefault(address, i)
        nested, memory = news.get("nested_virtualization"), news.get("memory_bytes")
        if nested is True and isinstance(memory, int) and memory < NESTED_MIN_MEMORY:
            failures.append(CheckFailure("memory_bytes", (
                f"{format_size(memory)} is too little for a nested Hyper-V host (nested_virtualization=true): allowed "
                f"4GB or more (its own Windows, the hypervisor, and the memory of the VMs it will run)")))
        if olds and olds.get("administrator_password") is not None:
            new = news.get("administrator_password")
            if new is not None and not is_unknown(new) and new != olds.get("administrator_password"):
                failures.append(CheckFailure("administrator_password", (
                    "cannot change after the machine exists: the answer file set it at first boot. Change it in "
                    "Windows (Set-LocalUser, or Set-ADAccountPassword on a DC), then declare the new value; or "
                    "replace the machine")))
        return failures

    def derived_inputs(self, inputs: dict) -> dict:
        adapters = inputs.get("network_adapters") or []
        return {"winrm_address": adapters[0].get("ip_address") if adapters else None}

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        result = self.diff_with(olds, news)
        new_adapters = news.get("network_adapters")
        if (not contains_unknown(new_adapters) and _switches(olds.get("network_adapters")) != _switches(new_adapters)
                and "network_adapters" not in result.replaces):
            # another switch or another number of adapters: a new machine (the guest's adapters are fixed)
            result = DiffResult(changes=True, replaces=[*result.replaces, "network_adapters"],
                                stables=[s for s in result.stables or [] if s != "network_adapters"],
                                delete_before_replace=True)
        return result

    def make_id(self, inputs: dict) -> str:
        return f"{inputs['connection']['host']}/lab-machine/{str(inputs['name']).lower()}"

    @staticmethod
    def script_params(props: dict, mode: str) -> dict:
        return {
            "Mode": mode,
            "Name": str(props["name"]).upper(),
            "VMId": props.get("vm_id") or "",
            "ImagePath": props.get("image_path") or "",
            "DiskMode": props.get("disk_mode") or "differencing",
            "Folder": str(props.get("folder") or "C:\\Lab").rstrip("\\"),
            "TimeZone": props.get("time_zone") or "UTC",
            "AdministratorPassword": (props.get("administrator_password") or "") if mode == "Set" else "",
            "MemoryBytes": int(props.get("memory_bytes") or 4 * GB),
            "ProcessorCount": int(props.get("processor_count") or 2),
            "NestedVirtualization": bool(props.get("nested_virtualization")),
            "State": props.get("state") or "Running",
            "SwitchNames": [a["switch"] for a in props.get("network_adapters") or []],
            "VhdPaths": list(props.get("vhd_paths") or []),
            "CreatedFolders": list(props.get("created_folders") or []),
        }

    # -- the guest, through PowerShell Direct ---------------------------------------------------
    @staticmethod
    def _guest_params(props: dict, vm_id: str, mode: str, macs: Sequence[str]) -> dict:
        adapters = []
        for i, adapter in enumerate(props.get("network_adapters") or []):
            adapters.append({
                "MacAddress": macs[i] if i < len(macs) else "",
                "Name": adapter.get("name") or ("Ethernet" if i == 0 else f"Ethernet {i + 1}"),
                "IPAddress": adapter["ip_address"],
                "PrefixLength": int(adapter.get("prefix_length") or 24),
                "Gateway": adapter.get("gateway") or "",
                "DnsServers": list(adapter.get("dns_servers") or []),
            })
        return {"Mode": mode, "VMId": vm_id, "UserName": props.get("username") or "Administrator",
                "AdministratorPassword": props.get("administrator_password") or "",
                "AdaptersJson": json.dumps(adapters), "TimeZone": props.get("time_zone") or "UTC"}

    def _run_guest(self, props: dict, vm_id: str, mode: str, macs: Sequence[str]) -> dict:
        from . import transport

        return transport.run_script(props["connection"], GUEST_SCRIPT, self._guest_params(props, vm_id, mode, macs))

    def _wait_for_guest(self, props: dict, vm_id: str, macs: Sequence[str], what: str) -> dict:
        """Poll PowerShell Direct until the guest answers (first boot: Windows Setup's specialize and
        OOBE passes, minutes on real hardware), with progress on the resource's row."""
        timeout = float(props.get("boot_timeout") or 1800)
        start = time.monotonic()
        name = str(props["name"]).upper()
        reason = ""
        while True:
            state = self._run_guest(props, vm_id, "Get", macs)
            if state.get("Ready"):
                return state
            reason = str(state.get("Reason") or "")
            waited = time.monotonic() - start
            if waited > timeout:
                raise errors.HvProviderError(
                    f"{name}: the guest did not answer PowerShell Direct within {timeout:.0f} s of its {what} "
                    f"({reason or 'no reason given'}). Look at the VM's console on the Hyper-V host: a generalized "
                    f"image waits at OOBE when the answer file was not applied; the next `pulumi up` waits again")
            progress.status(f"{name}: waiting for the {what} ({waited:.0f} s)")
            time.sleep(1.0 if waited < 30 else 3.0)

    def _wait_for_winrm(self, props: dict, connection: dict) -> None:
        """The machine's own WinRM endpoint answers at its address (what every other resource needs)."""
        from . import transport

        timeout = min(600.0, float(props.get("boot_timeout") or 1800))
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            try:
                transport.boot_time(connection, retries=0, timeout=60)
                return
            except (errors.ConnectionFailedError, errors.InvalidCredentialsError, errors.WinRMFaultError,
                    errors.ScriptTimeoutError) as exc:
                last = str(exc)
                transport.discard_shells(connection)
            if time.monotonic() > deadline:
                raise errors.HvProviderError(
                    f"{str(props['name']).upper()}: configured, but WinRM at {connection['host']} did not answer within "
                    f"{timeout:.0f} s ({last}); check the address and the switch's network")
            progress.status(f"{str(props['name']).upper()}: waiting for WinRM at {connection['host']}")
            time.sleep(1.0)

    def ensure(self, inputs: dict, olds: dict | None) -> dict:
        name = str(inputs["name"]).upper()
        record = dict(inputs)
        if olds:
            record.update({k: olds.get(k) for k in ("vm_id", "vhd_paths", "created_folders")})
        progress.status(f"{name}: {'updating' if olds else 'creating'} the VM")
        off = inputs.get("state") == "Off"
        # a new machine runs for its first configuration whatever its declared state; it is shut down after
        state = self.run_mode({**record, "state": "Running"} if not olds else record, "Set")
        vm_id = str(state["VMId"])
        macs = [str(a.get("MacAddress") or "") for a in state.get("Adapters") or []]
        changes = list(state.get("Changes") or [])
        first_boot = not olds and not state.get("Adopted")
        if state.get("State") == "Running":
            self._wait_for_guest(inputs, vm_id, macs, "first boot (Windows Setup)" if first_boot else "guest")
            progress.status(f"{name}: configuring the guest through PowerShell Direct")
            guest = self._run_guest(inputs, vm_id, "Set", macs)
            changes += list(guest.get("Changes") or [])
            if off:
                owned = {"vm_id": vm_id, "vhd_paths": state.get("VhdPaths"), "created_folders": state.get("CreatedFolders")}
                changes += list(self.run_mode({**record, **owned}, "Set").get("Changes") or [])
            else:
                self._wait_for_winrm(inputs, machine_connection(inputs))
        return {
            "vm_id": vm_id,
            "vhd_paths": list(state.get("VhdPaths") or []),
            "created_folders": list(state.get("CreatedFolders") or []),
            "mac_addresses": macs,
            "winrm_address": self.derived_inputs(inputs)["winrm_address"],
            "adopted": bool(olds.get("adopted")) if olds else bool(state.get("Adopted")),
            "last_changes": changes,
        }

    def observe(self, id: str, outputs: dict) -> dict | None:
        state = self.run_mode(outputs, "Get")
        if not state.get("Exists"):
            return None
        observed = {
            # Saved or Paused show as themselves: the next plan then says what `up` will change
            "state": state.get("State"),
            "mac_addresses": [str(a.get("MacAddress") or "") for a in state.get("Adapters") or []],
            # drift in the inputs' own terms: the next plan shows it and the next up repairs it
            "memory_bytes": state.get("MemoryBytes"),
            "processor_count": state.get("ProcessorCount"),
            "nested_virtualization": state.get("NestedVirtualization"),
        }
        adapters = [dict(a) for a in outputs.get("network_adapters") or []]
        for adapter, seen in zip(adapters, state.get("Adapters") or []):
            adapter["switch"] = seen.get("SwitchName") or adapter.get("switch")
        if adapters:
            observed["network_adapters"] = adapters
        return observed


def machine_connection(props: Mapping[str, Any]) -> dict:
    """The connection to the machine itself (NTLM with message encryption on its first address)."""
    return {"host": props["network_adapters"][0]["ip_address"],
            "username": props.get("username") or f"{str(props['name']).upper()}\\Administrator",
            "password": props.get("administrator_password")}


class LabMachine(HvResource):
    """A VM on a Hyper-V host that becomes one of the lab's Windows servers (see the module docstring).

    ``machine_connection`` is the connection every other resource takes for this machine: a secret
    Output that depends on the machine, so a resource given it waits until the machine answers WinRM."""

    connection: pulumi.Output[dict]
    name: pulumi.Output[str]
    image_path: pulumi.Output[str]
    username: pulumi.Output[str]
    administrator_password: pulumi.Output[str]
    network_adapters: pulumi.Output[list]
    vm_id: pulumi.Output[str]
    vhd_paths: pulumi.Output[list]
    created_folders: pulumi.Output[list]
    mac_addresses: pulumi.Output[list]
    state: pulumi.Output[str]
    winrm_address: pulumi.Output[str]
    adopted: pulumi.Output[bool]
    last_changes: pulumi.Output[list]

    PROVIDER = LabMachineProvider

    def __init__(self, resource_name: str, args: Any = None, opts: pulumi.ResourceOptions | None = None,
                 **kwargs: Any) -> None:
        super().__init__(resource_name, args, opts, **kwargs)
        # vm_id ties it to the machine: a resource given it waits until the machine exists and answers
        self.machine_connection: pulumi.Output[dict] = pulumi.Output.secret(pulumi.Output.all(
            vm_id=self.vm_id, name=self.name, network_adapters=self.network_adapters, username=self.username,
            administrator_password=self.administrator_password).apply(machine_connection))
