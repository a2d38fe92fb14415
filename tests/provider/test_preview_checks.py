"""Every bad input the preview can know about, table-driven: each row is one invalid value given to one
resource's check (or to ClusterLab's stack config), the property path the failure must name, and a
word of what is allowed. No WinRM, no engine (tests/provider/test_preview_e2e.py runs a few of these
through a real `pulumi preview`)."""
import copy

import pytest

from hvprovider.base import engine_failure
from hvprovider.cluster_node import ClusterNodeProvider
from hvprovider.errors import ArgumentError
from hvprovider.failover_cluster import FailoverClusterProvider
from hvprovider.highly_available_vm import HighlyAvailableVMProvider
from hvprovider.iscsi_target import IscsiTargetProvider
from hvprovider.iscsi_volume import IscsiVolumeProvider
from hvprovider.lab import ClusterLabConfig
from hvprovider.shared_volume import SharedVolumeProvider
from hvprovider.validation import UNKNOWN, failures_by_property

CONN = {"host": "127.0.10.11", "username": "HV01\\Administrator", "password": "pw"}
DOMAIN = {"domain_username": "HYPER\\Administrator", "domain_password": "secret"}
GOOD = {
    IscsiTargetProvider: {"connection": CONN, "target_name": "cluster", "initiator_ids": ["DNSName:hv01.hyper.local"]},
    IscsiVolumeProvider: {"connection": CONN, "path": "C:\\iSCSIVirtualDisks\\q.vhdx", "size_bytes": "1GB",
                          "target_name": "cluster"},
    ClusterNodeProvider: {"connection": CONN, "domain_name": "hyper.local", "domain_join_username": "HYPER\\Administrator",
                          "domain_join_password": "pw", "target_portal_address": "192.168.10.10",
                          "target_iqns": ["iqn.1991-05.com.microsoft:dc01-cluster-target"], "disk_serial_numbers": ["S1"],
                          "switch_name": "VMNet", "switch_adapter": "Ethernet 2"},
    FailoverClusterProvider: {"connection": CONN, **DOMAIN, "name": "CLUSTER1", "nodes": ["HV01", "HV02"],
                              "static_address": "192.168.10.20", "witness_disk_serial": "S1"},
    SharedVolumeProvider: {"connection": CONN, "cluster_name": "CLUSTER1", "disk_serial": "S2", "label": "VMStorage"},
    HighlyAvailableVMProvider: {"connection": CONN, **DOMAIN, "name": "TestVM", "path": "C:\\ClusterStorage\\Volume1",
                                "memory_startup_bytes": "1GB", "disk_size_bytes": "20GB", "switch_name": "VMNet",
                                "owner_node": "HV01", "preferred_owners": ["HV01", "HV02"],
                                "cluster_nodes": ["HV01", "HV02"]},
}
DROP = object()  # a row's value that removes the property

IT, IV, CN, FC, SV, HA = (IscsiTargetProvider, IscsiVolumeProvider, ClusterNodeProvider, FailoverClusterProvider,
                          SharedVolumeProvider, HighlyAvailableVMProvider)
INVALID = [
    # provider, property, value, the failure's path, a fragment of its reason
    (IT, "target_name", "", "target_name", "must not be empty"),
    (IT, "target_name", "   ", "target_name", "must not be empty"),
    (IT, "target_name", "bad name!", "target_name", "letters, digits"),
    (IT, "target_name", 7, "target_name", "must be a string"),
    (IT, "target_name", DROP, "target_name", "is required"),
    (IT, "initiator_ids", [], "initiator_ids", "at least one"),
    (IT, "initiator_ids", ["hv01"], "initiator_ids[0]", "DNSName:"),
    (IT, "initiator_ids", ["DNSName:a.b", "dnsname:A.B"], "initiator_ids[1]", "listed twice"),
    (IT, "initiator_ids", "DNSName:a.b", "initiator_ids", "must be a list"),
    (IT, "initiator_ids", ["IPAddress:300.1.1.1"], "initiator_ids[0]", "IPv4"),
    (IT, "description", "x" * 1025, "description", "at most 1024"),
    (IT, "colour", "blue", "colour", "unknown property; allowed: connection, description"),
    (IT, "connection", {**CONN, "port": 70000}, "connection.port", "out of range"),
    (IT, "connection", {**CONN, "port": "http"}, "connection.port", "whole number"),
    (IT, "connection", {**CONN, "transport": "kerberoz"}, "connection.transport", "ntlm"),
    (IT, "connection", {**CONN, "https": "no"}, "connection.https", "true or false"),
    (IT, "connection", {**CONN, "password": DROP}, "connection", "password is required"),
    (IT, "connection", {**CONN, "host": ""}, "connection.host", "must not be empty"),
    (IT, "connection", {**CONN, "username": ""}, "connection.username", "must not be empty"),
    (IT, "connection", {**CONN, "operation_timeout": 40}, "connection", "read_timeout must be larger"),
    (IT, "connection", {**CONN, "server_cert_validation": "off"}, "connection.server_cert_validation", "validate, ignore"),
    (IT, "connection", "127.0.10.11", "connection", "must be an object"),
    (IV, "path", "relative\\a.vhdx", "path", "absolute Windows path"),
    (IV, "path", "C:\\d\\a.vhd", "path", ".vhdx"),
    (IV, "path", "", "path", "must not be empty"),
    (IV, "size_bytes", "ten", "size_bytes", "size in bytes"),
    (IV, "size_bytes", "1KB", "size_bytes", "out of range"),
    (IV, "size_bytes", 1.5, "size_bytes", "size in bytes"),
    (IV, "size_bytes", "10.5MB", "size_bytes", "whole number of MB"),
    (IV, "disk_type", "thin", "disk_type", "Dynamic, Fixed"),
    (IV, "lun", 255, "lun", "out of range"),
    (IV, "lun", "two", "lun", "whole number"),
    (IV, "lun", 1.5, "lun", "whole number"),
    (IV, "keep_file", "no", "keep_file", "true or false"),
    (IV, "keep_file", 1, "keep_file", "true or false"),
    (IV, "target_name", "", "target_name", "must not be empty"),
    (CN, "features", ["Hyper V"], "features[0]", "feature name"),
    (CN, "features", ["Hyper-V", "hyper-v"], "features[1]", "listed twice"),
    (CN, "domain_name", "hyper_local", "domain_name", "DNS name"),
    (CN, "domain_join_username", "Administrator", "domain_join_username", "must name the domain"),
    (CN, "domain_join_password", DROP, "domain_join_password", "required with domain_name"),
    (CN, "target_portal_address", "", "target_portal_address", "IP address or DNS name"),
    (CN, "target_iqns", ["IQN.bad"], "target_iqns[0]", "iSCSI name"),
    (CN, "switch_name", "", "switch_name", "printable"),
    (CN, "switch_adapter", DROP, "switch_adapter", "go together"),
    (CN, "restart_timeout", 5, "restart_timeout", "out of range"),
    (CN, "credssp", "yes", "credssp", "true or false"),
    (CN, "allow_restart", 1, "allow_restart", "true or false"),
    (CN, "disk_serial_numbers", [""], "disk_serial_numbers[0]", "must not be empty"),
    (CN, "leave_domain_on_delete", "no", "leave_domain_on_delete", "true or false"),
    (FC, "name", "A-CLUSTER-NAME-TOO-LONG", "name", "NetBIOS"),
    (FC, "nodes", [], "nodes", "at least one"),
    (FC, "nodes", ["HV01", "hv01.hyper.local"], "nodes[1]", "listed twice"),
    (FC, "nodes", ["bad name"], "nodes[0]", "node name"),
    (FC, "static_address", "192.168.10", "static_address", "IPv4"),
    (FC, "skip_validation", "no", "skip_validation", "true or false"),
    (FC, "disk_wait_seconds", -1, "disk_wait_seconds", "out of range"),
    (FC, "domain_password", "", "domain_password", "must not be empty"),
    (FC, "domain_username", DROP, "domain_username", "is required"),
    (SV, "cluster_name", "bad name", "cluster_name", "NetBIOS"),
    (SV, "disk_serial", "", "disk_serial", "must not be empty"),
    (SV, "label", "x" * 33, "label", "at most 32"),
    (SV, "disk_wait_seconds", 4000, "disk_wait_seconds", "out of range"),
    (SV, "alternate_connections", [{"host": "127.0.10.12"}], "alternate_connections[0].username", "is required"),
    (HA, "switch_name", "", "switch_name", "must not be empty"),
    (HA, "owner_node", "HV03", "owner_node", "not a node of the cluster"),
    (HA, "owner_node", "hv03.hyper.local", "owner_node", "its nodes are: HV01, HV02"),
    (HA, "preferred_owners", ["HV01", "HV03"], "preferred_owners[1]", "not a node of the cluster"),
    (HA, "preferred_owners", ["HV01", "hv01.hyper.local"], "preferred_owners[1]", "listed twice"),
    (HA, "name", "web*1", "name", "without"),
    (HA, "name", "", "name", "must not be empty"),
    (HA, "path", "C:\\", "path", "below the drive root"),
    (HA, "memory_startup_bytes", "1KB", "memory_startup_bytes", "out of range"),
    (HA, "processor_count", 0, "processor_count", "out of range"),
    (HA, "processor_count", "two", "processor_count", "whole number"),
    (HA, "generation", 3, "generation", "choose one of: 1, 2"),
    (HA, "state", "Paused", "state", "Running, Off"),
    (HA, "migration_type", "Shutdown", "migration_type", "Live, Quick"),
    (HA, "disk_size_bytes", "512MB", "disk_size_bytes", "out of range"),
    (HA, "allow_restart_for_changes", "no", "allow_restart_for_changes", "true or false"),
    (HA, "owner_node", "bad name", "owner_node", "node name"),
    (HA, "cluster_nodes", ["HV01", "bad name"], "cluster_nodes[1]", "node name"),
]


def checked(provider, prop, value, olds=None):
    news = copy.deepcopy(GOOD[provider])
    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if v is not DROP}
    if value is DROP:
        news.pop(prop)
    else:
        news[prop] = value
    return provider().check(olds or {}, news)


def test_the_good_inputs_pass():
    for provider, news in GOOD.items():
        assert provider().check({}, news).failures == [], provider.__name__


@pytest.mark.parametrize("provider,prop,value,path,fragment", INVALID,
                         ids=[f"{p.RESOURCE}.{path}-{i}" for i, (p, _, _, path, _) in enumerate(INVALID)])
def test_a_bad_input_is_refused_on_the_property_written(provider, prop, value, path, fragment):
    result = checked(provider, prop, value)
    failures = failures_by_property(result.failures)
    assert path in failures, failures
    assert fragment in failures[path], failures[path]
    # how the engine gets it: no property of its own (the engine would print "value {<nil>}"), the
    # path leading the reason
    assert all(f.property == "" and f.reason.split(": ")[0] in failures for f in result.failures)


def test_there_are_at_least_fifty_rows():
    assert len(INVALID) + len(LAB_INVALID) >= 50 + 10


def test_engine_failures_put_the_path_first():
    from pulumi.dynamic import CheckFailure

    assert engine_failure(CheckFailure("connection.port", "out of range")).reason == "connection.port: out of range"
    assert engine_failure(CheckFailure("", "whole resource")).reason == "whole resource"


# -- values that are right, kept as written -------------------------------------------------------

def test_stack_config_booleans_and_numbers_are_parsed_strictly():
    inputs = checked(FC, "skip_validation", "true").inputs
    assert inputs["skip_validation"] is True
    assert checked(FC, "skip_validation", "False").inputs["skip_validation"] is False
    assert checked(HA, "processor_count", "2").inputs["processor_count"] == 2
    assert checked(IT, "connection", {**CONN, "port": "5985"}).inputs["connection"]["port"] == 5985


def test_explicit_zeros_are_kept():
    inputs = checked(FC, "disk_wait_seconds", 0).inputs
    assert inputs["disk_wait_seconds"] == 0
    assert FailoverClusterProvider.script_params(inputs, "Set")["DiskWaitSeconds"] == 0
    inputs = checked(SV, "disk_wait_seconds", 0).inputs
    assert SharedVolumeProvider.script_params(inputs, "Set")["DiskWaitSeconds"] == 0
    assert checked(IV, "lun", 0).inputs["lun"] == 0
    assert IscsiVolumeProvider.script_params(checked(IV, "lun", 0).inputs, "Set")["Lun"] == 0
    assert SharedVolumeProvider.script_params(checked(SV, "label", "").inputs, "Set")["Label"] == ""


def test_sizes_and_whole_numbers_are_ints():
    inputs = checked(IV, "size_bytes", 1073741824.0).inputs
    assert inputs["size_bytes"] == 1073741824 and type(inputs["size_bytes"]) is int
    assert type(checked(HA, "processor_count", 2.0).inputs["processor_count"]) is int
    # an old value the engine hands back as a float reads as an int in a message
    olds = {**HighlyAvailableVMProvider().check({}, GOOD[HA]).inputs, "memory_startup_bytes": 1073741824.0}
    refused = failures_by_property(checked(HA, "memory_startup_bytes", "2GB", olds=olds).failures)
    assert "from 1073741824 to 2147483648" in refused["memory_startup_bytes"]


def test_node_checks_wait_for_values_still_unknown():
    assert checked(HA, "cluster_nodes", UNKNOWN).failures == []
    assert checked(HA, "cluster_nodes", ["HV01", UNKNOWN]).failures == []
    assert checked(HA, "owner_node", UNKNOWN).failures == []
    assert checked(HA, "cluster_nodes", None).failures == []           # not given: not checked
    assert checked(HA, "owner_node", "hv02.hyper.local").failures == []  # FQDN or NetBIOS spelling


# -- ClusterLab's stack config: the failure names the key the user wrote ----------------------------

LAB = {
    "storageHost": {"name": "DC01", "address": "192.168.10.10", "connection": {"host": "127.0.10.10", "username": "u"}},
    "nodes": [{"name": "HV01", "vmNic": "Ethernet 2", "connection": {"host": "127.0.10.11", "username": "u"}},
              {"name": "HV02", "vmNic": "Ethernet 2", "connection": {"host": "127.0.10.12", "username": "u"}}],
    "domain": {"fqdn": "hyper.local", "username": "HYPER\\Administrator"},
    "cluster": {"name": "CLUSTER1", "address": "192.168.10.20"},
    "storage": {"targetName": "cluster1", "quorumSize": "1GB", "storageSize": "4GB"},
    "switchName": "VMNet",
    "vm": {"name": "TestVM", "ownerNode": "HV01", "preferredOwners": ["HV01", "HV02"]},
}
PASSWORDS = {"DC01": "a", "HV01": "b", "HV02": "c"}


def at(path, value):
    """LAB with the value at a path of keys and indexes replaced (DROP removes it)."""
    data = copy.deepcopy(LAB)
    *parents, last = path
    node = data
    for key in parents:
        node = node.setdefault(key, {}) if isinstance(key, str) else node[key]
    if value is DROP:
        del node[last]
    elif isinstance(node, list) and last == len(node):
        node.append(value)
    else:
        node[last] = value
    return data


LAB_INVALID = [
    (("nodes", 1, "name"), "hv01", "lab.nodes[1].name", "listed twice"),
    (("nodes", 1, "name"), "HV 02", "lab.nodes[1].name", "NetBIOS"),
    (("nodes", 0, "vmNic"), DROP, "lab.nodes[0].vmNic", "is required"),
    (("nodes", 1, "connection", "port"), "http", "lab.nodes[1].connection.port", "whole number"),
    (("nodes", 1, "connection", "host"), "", "lab.nodes[1].connection.host", "must not be empty"),
    (("nodes",), [], "lab.nodes", "at least one node"),
    (("domain", "fqdn"), "hyper_local", "lab.domain.fqdn", "DNS name"),
    (("domain", "username"), "Administrator", "lab.domain.username", "must name the domain"),
    (("cluster", "skipValidation"), "no", "lab.cluster.skipValidation", "true or false"),
    (("cluster", "address"), "10.0.0", "lab.cluster.address", "IPv4"),
    (("cluster", "name"), "", "lab.cluster.name", "must not be empty"),
    (("storageHost", "name"), "DC 01", "lab.storageHost.name", "NetBIOS"),
    (("storage", "quorumSize"), "1KB", "lab.storage.quorumSize", "out of range"),
    (("storage", "folder"), "iSCSI", "lab.storage.folder", "absolute Windows path"),
    (("storage", "extraVolumes"), [{"name": "quorum", "size": "1GB"}], "lab.storage.extraVolumes[0].name", "taken"),
    (("storage", "extraVolumes"), [{"name": "data 1", "size": "1GB"}], "lab.storage.extraVolumes[0].name", "volume name"),
    (("switchName",), "", "lab.switchName", "printable"),
    (("vm", "ownerNode"), "HV03", "lab.vm.ownerNode", "not a node of the lab"),
    (("vm", "preferredOwners"), ["HV01", "HV09"], "lab.vm.preferredOwners[1]", "not a node of the lab"),
    (("vm", "processorCount"), "two", "lab.vm.processorCount", "whole number"),
    (("vm", "memoryStartup"), "2GB", "lab.vm.memoryStartup", "unknown property; allowed: "),
    (("extraVms",), [{"name": "testvm"}], "lab.extraVms[0].name", "another VM of the lab"),
    (("extraVms",), [{"name": "Web", "state": "Paused"}], "lab.extraVms[0].state", "Running, Off"),
]


@pytest.mark.parametrize("path,value,where,fragment", LAB_INVALID, ids=[w for _, _, w, _ in LAB_INVALID])
def test_a_bad_stack_config_value_is_named_by_its_key(path, value, where, fragment):
    with pytest.raises(ArgumentError) as info:
        ClusterLabConfig.from_dict(at(path, value), PASSWORDS, "d")
    lines = {line.strip().split(": ", 1)[0]: line.strip().split(": ", 1)[1]
             for line in str(info.value).splitlines()[1:]}
    assert where in lines, str(info.value)
    assert fragment in lines[where], lines[where]
    assert str(info.value).startswith("stack config lab: ") and "nothing was changed" in str(info.value)


def test_the_lab_config_is_parsed_strictly_and_kept_as_typed():
    cfg = ClusterLabConfig.from_dict(at(("cluster", "skipValidation"), "true"), PASSWORDS, "d")
    assert cfg.skip_validation is True
    cfg = ClusterLabConfig.from_dict(at(("vm", "processorCount"), "2"), PASSWORDS, "d")
    assert cfg.vm.processor_count == 2 and cfg.skip_validation is False
    cfg = ClusterLabConfig.from_dict(at(("storage", "extraVolumes"), [{"name": "data", "size": "2GB"}]), PASSWORDS, "d")
    assert [(v.name, v.size_bytes) for v in cfg.extra_volumes] == [("data", 2 * 1024 ** 3)]


def test_a_host_without_a_password_is_named():
    with pytest.raises(ArgumentError, match=r"hostPasswords: no password for host 'HV02'"):
        ClusterLabConfig.from_dict(LAB, {"DC01": "a", "HV01": "b"}, "d")
