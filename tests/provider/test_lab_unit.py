"""ClusterLabConfig from stack config: the shipped hvsim stack parses; mistakes are named."""
from pathlib import Path

import pytest
import yaml

from hvprovider.errors import ArgumentError
from hvprovider.lab import ClusterLabConfig

REPO = Path(__file__).resolve().parents[2]


def hvsim_lab_shape():
    stack = yaml.safe_load((REPO / "stacks" / "Pulumi.hvsim.yaml").read_text(encoding="utf-8"))
    return stack["config"]["hvlab:lab"]


def test_the_hvsim_stack_parses_into_the_typed_config():
    cfg = ClusterLabConfig.from_dict(hvsim_lab_shape(), {"DC01": "a", "HV01": "b", "HV02": "c"}, "d", "e")
    assert (cfg.storage_host.name, cfg.storage_host.address) == ("DC01", "192.168.10.10")
    assert cfg.storage_host.connection == {"host": "127.0.10.10", "port": 5985, "username": "Administrator",
                                           "password": "a"}
    # the seed's steps 1 and 4: a new forest on DC01 (its DSRM password the dsrmPassword secret), the tools
    assert cfg.domain_controller.safe_mode_password == "e" and cfg.domain_controller.forest_mode == "WinThreshold"
    assert cfg.management_tools is True
    with pytest.raises(ArgumentError, match=r"lab\.domainController: the new forest needs its DSRM password"):
        ClusterLabConfig.from_dict(hvsim_lab_shape(), {"DC01": "a", "HV01": "b", "HV02": "c"}, "d")
    assert [(n.name, n.vm_nic, n.connection["host"], n.connection["password"]) for n in cfg.nodes] == [
        ("HV01", "Ethernet 2", "127.0.10.11", "b"), ("HV02", "Ethernet 2", "127.0.10.12", "c")]
    assert (cfg.cluster_name, cfg.cluster_address, cfg.domain_fqdn) == ("CLUSTER1", "192.168.10.20", "hyper.local")
    assert (cfg.vm.name, cfg.vm.owner_node, cfg.vm.memory_startup_bytes) == ("TestVM", "HV01", 1024 ** 3)
    assert list(cfg.vm.preferred_owners) == ["HV01", "HV02"] and cfg.domain_password == "d"


def test_stack_config_mistakes_are_named():
    shape = hvsim_lab_shape()
    shape["vm"]["memoryStartup"] = "2GB"
    with pytest.raises(ArgumentError, match=r"lab\.vm\.memoryStartup: unknown property; allowed: .*memoryStartupBytes"):
        ClusterLabConfig.from_dict(shape, {"DC01": "a", "HV01": "b", "HV02": "c"}, "d")
    shape = hvsim_lab_shape()
    shape["cluster"]["adress"] = "10.0.0.1"
    with pytest.raises(ArgumentError, match=r"lab\.cluster\.adress: unknown property"):
        ClusterLabConfig.from_dict(shape, {"DC01": "a", "HV01": "b", "HV02": "c"}, "d")


def test_the_example_stack_for_real_servers_parses():
    stack = yaml.safe_load((REPO / "stacks" / "Pulumi.example.yaml").read_text(encoding="utf-8"))
    cfg = ClusterLabConfig.from_dict(stack["config"]["hvlab:lab"], {"FS01": "a", "HV01": "b", "HV02": "c"}, "d")
    assert cfg.storage_host.connection["https"] is True
    assert cfg.storage_host.connection["ca_trust_path"] == "/etc/ssl/certs/corp-ca.pem"
    assert (cfg.cluster_name, cfg.storage_size_bytes, cfg.vm.allow_restart_for_changes) == ("HVCLUSTER1", 500 * 1024 ** 3, False)
