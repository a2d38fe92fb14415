"""Argument specs, check() and diff() of the part-1 resources: no WinRM, no engine."""
import pytest

from hvprovider.base import describe_diff
from hvprovider.cluster_node import ClusterNodeProvider
from hvprovider.connection import connection_from_inputs
from hvprovider.iscsi_target import IscsiTargetProvider
from hvprovider.iscsi_volume import IscsiVolumeProvider
from hvprovider import validation as v

UNKNOWN = v.UNKNOWN
CONN = {"host": "127.0.10.10", "username": "HYPER\\Administrator", "password": "pw"}


def failures_of(result):
    return v.failures_by_property(result.failures)


@pytest.mark.parametrize("value,ok", [
    ("HV01", True), ("A" * 15, True), ("A" * 16, False), ("123", False), ("-HV", False), ("HV_01", False),
    ("hv 01", False),
])
def test_netbios_names(value, ok):
    assert (v.netbios_name(value) is None) == ok


@pytest.mark.parametrize("value,ok", [
    ("iqn.1991-05.com.microsoft:dc01-cluster-target", True), ("iqn.1991-05.com.microsoft", True),
    ("IQN.1991-05.com.microsoft:x", False), ("iqn.91-05.com:x", False), ("eui.0123456789ABCDEF", True),
    ("iqn.1991-05.com.microsoft:" + "a" * 220, False),
])
def test_iqns(value, ok):
    assert (v.iqn(value) is None) == ok


@pytest.mark.parametrize("value,ok", [
    ("DNSName:hv01.hyper.local", True), ("dnsname:hv01.hyper.local", True),
    ("IQN:iqn.1991-05.com.microsoft:hv01.hyper.local", True), ("IPAddress:192.168.10.11", True),
    ("IPAddress:300.1.1.1", False), ("MACAddress:00-15-5D-01-02-03", True), ("hv01", False),
    ("Name:hv01", False), ("IQN:nonsense", False), ("IQN:*", True), ("MACAddress:00155D010203", True),
])
def test_initiator_ids(value, ok):
    assert (v.initiator_id(value) is None) == ok


def test_initiator_ids_take_the_spelling_windows_prints():
    assert v.normalize_initiator_id("macaddress:00:15:5d:01:02:03") == "MACAddress:00-15-5D-01-02-03"
    assert v.normalize_initiator_id("dnsname:hv01.hyper.local") == "DNSName:hv01.hyper.local"


def test_sizes_and_paths():
    assert v.parse_size("10GB") == 10 * 1024 ** 3
    assert v.parse_size("512 MB") == 512 * 1024 ** 2
    assert v.parse_size(1073741824.0) == 1073741824
    assert v.parse_size("ten") is None and v.parse_size(True) is None
    assert v.vhdx_path("C:\\iSCSIVirtualDisks\\o'brien $x; `n.vhdx") is None
    assert v.vhdx_path("C:\\disks\\a.vhd") is not None
    assert v.windows_path("relative\\a.vhdx") is not None
    assert v.windows_path('C:\\a"b.vhdx') is not None
    assert v.size_between(8 << 20, 1 << 40)(1000) is not None


def test_target_check_names_the_property_and_whats_allowed():
    p = IscsiTargetProvider()
    res = p.check({}, {"connection": {**CONN, "transport": "kerberoz", "port": 70000},
                       "target_name": "bad name!", "initiator_ids": ["hv01", "DNSName:hv02.hyper.local"],
                       "colour": "blue"})
    f = failures_of(res)
    assert "connection.transport" in f and "ntlm" in f["connection.transport"]
    assert "connection.port" in f
    assert "target_name" in f and "letters, digits" in f["target_name"]
    assert "initiator_ids[0]" in f and "DNSName:" in f["initiator_ids[0]"]
    assert "colour" in f and "allowed" in f["colour"]


@pytest.mark.parametrize("name", ["cluster*", "cluster?", "c[1]"])
def test_wildcard_target_names_are_refused_at_preview(name):
    # a target name becomes part of its IQN, which allows no * ? [ ]: refused before any WinRM call,
    # so no Set-/Remove-IscsiServerTarget -TargetName ever gets a pattern
    assert "target_name" in failures_of(IscsiTargetProvider().check(
        {}, {"connection": CONN, "target_name": name, "initiator_ids": ["DNSName:hv01.hyper.local"]}))
    assert "target_name" in failures_of(IscsiVolumeProvider().check(
        {}, {"connection": CONN, "path": "C:\\d\\x.vhdx", "size_bytes": "1GB", "target_name": name}))


def test_target_check_normalizes_and_fills_defaults():
    p = IscsiTargetProvider()
    res = p.check({}, {"connection": CONN, "target_name": "cluster", "initiator_ids": ["dnsname:hv01.hyper.local"],
                       "target_iqn": None, "adopted": None})
    assert res.failures == []
    assert res.inputs["initiator_ids"] == ["DNSName:hv01.hyper.local"]
    assert res.inputs["description"] == ""
    assert res.inputs["connection"]["transport"] == "ntlm"
    assert res.inputs["connection"]["server_cert_validation"] == "validate"
    assert "target_iqn" not in res.inputs


def test_connection_requires_password_and_sane_timeouts():
    p = IscsiTargetProvider()
    res = p.check({}, {"connection": {"host": "dc01", "username": "u", "operation_timeout": 40},
                       "target_name": "t", "initiator_ids": ["DNSName:a.b"]})
    f = failures_of(res)
    assert "connection" in f and "password" in f["connection"]
    conn = connection_from_inputs({**CONN, "https": True})
    assert conn.port == 5986 and conn.endpoint == "https://127.0.10.10:5986/wsman"
    assert "pw" not in repr(conn)


def test_a_refused_secret_is_not_repeated_in_the_check_failure():
    from hvprovider.failover_cluster import FailoverClusterProvider

    res = FailoverClusterProvider().check({}, {
        "connection": {**CONN, "password": 987654321}, "domain_username": "HYPER\\Administrator",
        "domain_password": 123456789, "name": "CLUSTER1", "nodes": ["HV01"], "static_address": "192.168.10.20"})
    f = failures_of(res)
    assert f["connection.password"] == "must be a string, got number '********'"
    assert f["domain_password"] == "must be a string, got number '********'"
    assert "987654321" not in repr(res.failures) and "123456789" not in repr(res.failures)


def test_target_diff_table():
    p = IscsiTargetProvider()
    old = p.check({}, {"connection": CONN, "target_name": "cluster",
                       "initiator_ids": ["DNSName:hv01.hyper.local", "DNSName:hv02.hyper.local"]}).inputs
    old = {**old, "target_iqn": "iqn.x", "adopted": False}
    same = {**old, "initiator_ids": ["DNSName:HV02.hyper.local", "DNSName:hv01.hyper.local"]}
    assert p.diff("id", old, same).changes is False
    d = p.diff("id", old, {**old, "initiator_ids": ["DNSName:hv01.hyper.local"]})
    assert d.changes and d.replaces == []
    d = p.diff("id", old, {**old, "target_name": "other"})
    assert d.replaces == ["target_name"]
    d = p.diff("id", old, {**old, "connection": {**old["connection"], "password": "new"}})
    assert d.changes and d.replaces == []
    d = p.diff("id", old, {**old, "connection": {**old["connection"], "host": "127.0.10.99"}})
    assert d.replaces == ["connection"]
    # preview: a value another resource computes is unknown
    d = p.diff("id", old, {**old, "target_name": UNKNOWN})
    assert d.replaces == ["target_name"]
    d = p.diff("id", old, {**old, "initiator_ids": [UNKNOWN]})
    assert d.changes and d.replaces == []


def test_volume_grow_updates_shrink_is_refused_at_check():
    p = IscsiVolumeProvider()
    news = {"connection": CONN, "path": "C:\\iSCSIVirtualDisks\\quorum.vhdx", "size_bytes": "1GB",
            "target_name": "cluster"}
    old = p.check({}, news).inputs
    assert old["size_bytes"] == 1024 ** 3 and old["disk_type"] == "Dynamic" and old["lun"] == -1
    bigger = p.check(old, {**news, "size_bytes": "2GB"})
    assert bigger.failures == []
    d = p.diff("id", {**old, "serial_number": "s"}, bigger.inputs)
    assert d.changes and d.replaces == []
    smaller = p.check(old, {**news, "size_bytes": "512MB"})
    f = failures_of(smaller)
    assert "size_bytes" in f and "cannot shrink" in f["size_bytes"]
    # a new path is a new disk: any size is fine, and it replaces (deleting the old one first)
    moved = p.check(old, {**news, "path": "C:\\d\\other.vhdx", "size_bytes": "512MB"})
    assert moved.failures == []
    d = p.diff("id", old, moved.inputs)
    assert d.replaces == ["path"] and d.delete_before_replace is True
    d = p.diff("id", old, {**old, "disk_type": "Fixed"})
    assert d.replaces == ["disk_type"]
    bad = failures_of(p.check({}, {**news, "disk_type": "thin", "size_bytes": "1.5KB"}))
    assert "Dynamic, Fixed" in bad["disk_type"] and "size_bytes" in bad


def test_volume_unknown_size_during_preview_is_not_a_failure():
    p = IscsiVolumeProvider()
    res = p.check({}, {"connection": CONN, "path": "C:\\d\\a.vhdx", "size_bytes": UNKNOWN, "target_name": UNKNOWN})
    assert res.failures == []


def test_cluster_node_check_and_delete_policy():
    p = ClusterNodeProvider()
    news = {"connection": CONN, "domain_name": "hyper.local", "target_iqns": ["iqn.1991-05.com.microsoft:x"],
            "switch_name": 'Lab "External" $net'}
    f = failures_of(p.check({}, news))
    assert set(f) == {"domain_join_password", "target_portal_address", "switch_adapter"}
    ok = p.check({}, {**news, "domain_join_username": "HYPER\\Administrator", "domain_join_password": "pw",
                      "target_portal_address": "127.0.10.10", "switch_adapter": "Ethernet 2"})
    assert ok.failures == []
    assert ok.inputs["features"] == list(("Hyper-V", "Failover-Clustering", "RSAT-Clustering-PowerShell",
                                          "Hyper-V-PowerShell"))
    policy = ok.inputs["delete_policy"]
    assert "disconnect iSCSI targets" in policy and "keeps features and domain membership" in policy
    assert "pw" not in policy


def test_cluster_node_drift_is_observed_in_input_terms():
    p = ClusterNodeProvider()
    desired = {"features": ["Hyper-V"], "target_iqns": ["iqn.a:t1", "iqn.a:t2"], "disk_serial_numbers": ["S1"],
               "credssp": True, "domain_name": "hyper.local", "switch_name": "LAN", "switch_adapter": "Ethernet 2"}
    state = {"ComputerName": "HV01", "Fqdn": "hv01.hyper.local", "Domain": "hyper.local",
             "Features": [{"Name": "Hyper-V", "Installed": True}],
             "Sessions": [{"TargetNodeAddress": "iqn.a:t1", "IsConnected": True}],
             "Disks": [{"SerialNumber": "S1"}],
             "CredSSP": {"Server": True, "Client": True, "Delegates": ["wsman/hv01.hyper.local", "wsman/hv01"]},
             "Switch": {"Name": "LAN", "SwitchType": "External", "NetAdapterName": "Ethernet 2"}}
    obs = p._observed_inputs(desired, state)
    assert obs["target_iqns"] == ["iqn.a:t1"]
    assert obs["credssp"] is True and obs["switch_name"] == "LAN" and obs["features"] == ["Hyper-V"]
    changes, replaces = describe_diff(p.SPEC, {**desired, **obs}, desired)
    assert changes == ["target_iqns"] and replaces == []


@pytest.mark.parametrize("value,ok", [("300.1.1.1", False), ("192.168.10.10", True), ("dc01", True),
                                      ("dc01.hyper.local", True), ("10.0.0", False)])
def test_a_mistyped_address_is_no_host_name(value, ok):
    # found by tools/reliability.py: "300.1.1.1" passed as a DNS name (labels of digits)
    assert (v.host_address(value) is None) == ok


def test_node_storage_apart_from_the_node():
    """attach_storage=False leaves the iSCSI inputs to NodeStorage, which takes the same Props and checks."""
    from hvprovider.node_storage import NodeStorageProvider
    node = ClusterNodeProvider()
    f = failures_of(node.check({}, {"connection": CONN, "attach_storage": False, "target_iqns": ["iqn.1991-05.com.microsoft:t1"],
                                    "target_portal_address": "127.0.10.10"}))
    assert set(f) == {"attach_storage"} and "leave target_portal_address, target_iqns out" in f["attach_storage"]
    apart = node.check({}, {"connection": CONN, "attach_storage": False})
    assert apart.failures == [] and "disconnect" not in apart.inputs["delete_policy"]
    # the node with attach_storage=False neither connects nor logs off: not even what it recorded before
    params = node._node_params(apart.inputs, "Set", {"target_iqns": ["iqn.1991-05.com.microsoft:t1"]})
    assert params["AttachStorage"] is False
    storage = NodeStorageProvider()
    f = failures_of(storage.check({}, {"connection": CONN, "target_iqns": ["iqn.1991-05.com.microsoft:t1",
                                                                        "IQN.1991-05.COM.MICROSOFT:T1"]}))
    assert set(f) == {"target_portal_address", "target_iqns[1]"}
    f = failures_of(storage.check({}, {"connection": CONN, "target_portal_address": "10.0.0.1", "disk_sizes": ["1GB", "2GB"],
                                       "target_iqns": ["iqn.1991-05.com.microsoft:t1"], "disk_serial_numbers": ["S1"]}))
    assert set(f) == {"disk_sizes"}
    assert "target_iqns" in failures_of(storage.check({}, {"connection": CONN, "target_portal_address": "10.0.0.1",
                                                          "target_iqns": []}))
    ok = storage.check({}, {"connection": CONN, "target_portal_address": "10.0.0.1", "target_iqns": ["iqn.1991-05.com.microsoft:t1"]})
    assert ok.failures == [] and ok.inputs["disk_serial_numbers"] == []
    # an update logs off only what it recorded and no longer lists
    assert storage.script_params(ok.inputs, "Set", {"target_iqns": ["iqn.1991-05.com.microsoft:t0"]})["PreviousTargetIqns"] == ["iqn.1991-05.com.microsoft:t0"]
