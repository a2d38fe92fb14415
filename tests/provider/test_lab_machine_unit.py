"""LabMachine's check (preview), diff and script parameters, and ClusterLab's machine_host config:
no engine, no WinRM."""
from pathlib import Path

import pytest
import yaml

from hvprovider.errors import ArgumentError
from hvprovider.lab import ClusterLabConfig
from hvprovider.lab_machine import LabMachineProvider, machine_connection
from hvprovider.validation import failures_by_property

REPO = Path(__file__).resolve().parents[2]
HOST = {"host": "127.0.20.1", "username": "LABHOST\\Administrator", "password": "Labhost-2022!"}
GOOD = {"connection": HOST, "name": "HV01", "image_path": "C:\\Images\\HyperV2019-Sysprep.vhdx",
        "administrator_password": "Hv01-Local-2019!", "nested_virtualization": True,
        "network_adapters": [{"switch": "Lab", "ip_address": "127.0.21.11", "dns_servers": ["127.0.21.10"]},
                             {"switch": "Lab", "name": "Ethernet 2", "ip_address": "127.0.22.11"}]}


def check(news, olds=None):
    result = LabMachineProvider().check(olds or {}, news)
    return failures_by_property(result.failures), result.inputs


def test_defaults_and_what_a_preview_knows():
    failures, inputs = check(GOOD)
    assert failures == {}
    assert (inputs["disk_mode"], inputs["folder"], inputs["time_zone"]) == ("differencing", "C:\\Lab", "UTC")
    assert (inputs["memory_bytes"], inputs["processor_count"], inputs["boot_timeout"]) == (4 * 1024**3, 2, 1800)
    # derived from the inputs alone: a preview shows them
    assert inputs["username"] == "HV01\\Administrator" and inputs["winrm_address"] == "127.0.21.11"
    assert inputs["network_adapters"][0]["prefix_length"] == 24
    assert machine_connection(inputs) == {"host": "127.0.21.11", "username": "HV01\\Administrator",
                                          "password": "Hv01-Local-2019!"}


@pytest.mark.parametrize("change,prop,words", [
    ({"image_path": "C:\\Images\\ws2022.vhd"}, "image_path", "must be a .vhdx"),
    ({"image_path": "Images\\ws2022.vhdx"}, "image_path", "absolute Windows path"),
    ({"name": "HV01.hyper.local"}, "name", "NetBIOS"),
    ({"name": "A-NAME-LONGER-THAN-15"}, "name", "NetBIOS"),
    ({"disk_mode": "linked"}, "disk_mode", "differencing"),
    ({"memory_bytes": "2GB"}, "memory_bytes", "too little for a nested Hyper-V host"),
    ({"memory_bytes": "100MB", "nested_virtualization": False}, "memory_bytes", "out of range"),
    ({"nested_virtualization": "yes"}, "nested_virtualization", ""),
    ({"administrator_password": "short"}, "administrator_password", "password policy"),
    ({"time_zone": "<Europe/Berlin>"}, "time_zone", "time zone id"),
    ({"network_adapters": []}, "network_adapters", "at least one adapter"),
    ({"network_adapters": [{"switch": "Lab", "ip_address": "127.0.21.300"}]}, "network_adapters[0].ip_address",
     "not an IPv4"),
    ({"network_adapters": [{"ip_address": "127.0.21.11"}]}, "network_adapters[0].switch", ""),
    ({"network_adapters": [{"switch": "Lab", "ip_address": "127.0.21.11"},
                           {"switch": "Lab", "ip_address": "127.0.21.11"}]}, "network_adapters[1].ip_address",
     "also network_adapters[0]"),
    ({"network_adapters": [{"switch": "Lab", "ip_address": "127.0.21.11", "prefix_length": 33}]},
     "network_adapters[0].prefix_length", "out of range"),
    ({"processor_count": 0}, "processor_count", "out of range"),
    ({"boot_timeout": 10}, "boot_timeout", "out of range"),
    ({"switch": "Lab"}, "switch", "unknown"),
])
def test_bad_input_named_at_preview(change, prop, words):
    failures, _ = check({**GOOD, **change})
    assert prop in failures, failures
    assert words in failures[prop]
    assert GOOD["administrator_password"] not in str(failures)


def test_the_username_as_windows_writes_it():
    for username in ("HV01\\Administrator", "Administrator", "labadmin@hyper.local"):
        failures, inputs = check({**GOOD, "username": username})
        assert failures == {} and inputs["username"] == username


def test_password_fixed_after_create():
    _, olds = check(GOOD)
    failures, _ = check({**GOOD, "administrator_password": "Another-Pass-2019!"}, olds)
    assert "Set-LocalUser" in failures["administrator_password"]
    assert "Another-Pass-2019!" not in str(failures) and "Hv01-Local-2019!" not in str(failures)


def diff(change):
    _, olds = check(GOOD)
    _, news = check({**GOOD, **change})
    return LabMachineProvider().diff("id", {**olds, "vm_id": "x"}, news)


def test_diff_says_which_property_replaces():
    assert diff({"image_path": "C:\\Images\\other.vhdx"}).replaces == ["image_path"]
    assert diff({"name": "HV03"}).replaces == ["name"]
    assert diff({"disk_mode": "copy"}).replaces == ["disk_mode"]
    # another switch, or another number of adapters: a new machine
    moved = dict(GOOD["network_adapters"][1], switch="Other")
    assert diff({"network_adapters": [GOOD["network_adapters"][0], moved]}).replaces == ["network_adapters"]
    assert diff({"network_adapters": GOOD["network_adapters"][:1]}).replaces == ["network_adapters"]
    assert diff({"network_adapters": GOOD["network_adapters"][:1]}).delete_before_replace is True
    # in place: memory, processors, addresses, time zone
    for change in ({"memory_bytes": "8GB"}, {"processor_count": 4}, {"time_zone": "W. Europe Standard Time"},
                   {"network_adapters": [dict(GOOD["network_adapters"][0], ip_address="127.0.21.51"),
                                         GOOD["network_adapters"][1]]}):
        result = diff(change)
        assert result.changes and result.replaces == [], change
    assert not diff({"boot_timeout": 60}).changes


def test_the_password_reaches_only_the_script_that_writes_the_answer_file():
    _, inputs = check(GOOD)
    assert LabMachineProvider.script_params(inputs, "Set")["AdministratorPassword"] == "Hv01-Local-2019!"
    for mode in ("Get", "Remove"):
        assert LabMachineProvider.script_params(inputs, mode)["AdministratorPassword"] == ""
    params = LabMachineProvider._guest_params(inputs, "id", "Set", ["00155D000001", "00155D000002"])
    assert '"Name": "Ethernet"' in params["AdaptersJson"] and '"Name": "Ethernet 2"' in params["AdaptersJson"]
    assert "Hv01-Local-2019!" not in params["AdaptersJson"]


def nested_shape():
    stack = yaml.safe_load((REPO / "stacks" / "Pulumi.hvsim-nested.yaml").read_text(encoding="utf-8"))
    return stack["config"]["hvlab:lab"]


PASSWORDS = {"LABHOST": "l", "DC01": "a", "HV01": "b", "HV02": "c"}


def test_the_nested_stacks_parse_into_machine_host():
    cfg = ClusterLabConfig.from_dict(nested_shape(), PASSWORDS, "d", "e")
    host = cfg.machine_host
    assert (host.name, host.switch, host.folder, host.time_zone) == ("LABHOST", "Lab", "C:\\Lab", "W. Europe Standard Time")
    assert host.connection == {"host": "127.0.20.1", "port": 5985, "username": "LABHOST\\Administrator", "password": "l"}
    assert cfg.storage_host.connection is None and cfg.storage_host.address == "127.0.21.10"
    assert [(n.address, n.vm_nic, n.vm_nic_address) for n in cfg.nodes] == [
        ("127.0.21.11", "Ethernet 2", "127.0.22.11"), ("127.0.21.12", "Ethernet 2", "127.0.22.12")]
    assert cfg.machine_passwords == {"DC01": "a", "HV01": "b", "HV02": "c"}
    example = yaml.safe_load((REPO / "stacks" / "Pulumi.nested-example.yaml").read_text(encoding="utf-8"))
    cfg = ClusterLabConfig.from_dict(example["config"]["hvlab:lab"], PASSWORDS, "d", "e")
    assert cfg.machine_host.node_memory_bytes == 8 * 1024**3 and cfg.machine_host.disk_mode == "differencing"


@pytest.mark.parametrize("edit,words", [
    (lambda s: s["nodes"][0].pop("vmNicAddress"), r"lab\.nodes\[0\]\.vmNicAddress: required with machine_host"),
    (lambda s: s["storageHost"].update(connection={"host": "127.0.21.10", "username": "Administrator"}),
     r"lab\.storageHost\.connection: not allowed with machine_host"),
    (lambda s: s["nodes"][1].update(address="127.0.21.11"), r"lab\.nodes\[1\]\.address: 127\.0\.21\.11 is also"),
    (lambda s: s["machineHost"].update(imagePath="C:\\Images\\x.iso"), r"lab\.machineHost\.imagePath: .*must be a \.vhdx"),
    (lambda s: s["machineHost"].update(nodeMemoryBytes="1GB"), r"lab\.machineHost\.nodeMemoryBytes: 1GB is too little"),
    (lambda s: s.pop("machineHost"), r"lab\.storageHost\.connection: required \(or declare machine_host"),
])
def test_nested_config_mistakes_are_named(edit, words):
    shape = nested_shape()
    edit(shape)
    with pytest.raises(ArgumentError, match=words):
        ClusterLabConfig.from_dict(shape, PASSWORDS, "d", "e")


def test_machine_passwords_are_checked_in_python_too():
    from hvprovider import ClusterLabArgs, LabHost, LabNode, MachineHost

    args = dict(storage_host=LabHost("DC01", address="10.10.0.10"),
                nodes=[LabNode("HV01", vm_nic="Ethernet 2", address="10.10.0.11", vm_nic_address="10.10.1.11")],
                domain_fqdn="hyper.local", domain_username="HYPER\\Administrator", domain_password="d",
                cluster_name="CLUSTER1", cluster_address="10.10.0.20",
                machine_host=MachineHost("LABHOST", HOST, switch="Lab", image_path="D:\\Images\\ws.vhdx"),
                machine_passwords={"DC01": "Dc01-Local-2022!"})
    from hvprovider.lab import lab_failures
    failures = failures_by_property(lab_failures(ClusterLabArgs(**args)))
    assert failures == {"machine_passwords": "no password for 'HV01': the Administrator password each LabMachine "
                                             "gets, by host name (stack config: hostPasswords)"}
