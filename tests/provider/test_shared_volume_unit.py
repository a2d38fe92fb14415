"""SharedVolume check/diff, before any WinRM call."""
from hvprovider.shared_volume import SharedVolumeProvider
from hvprovider.validation import UNKNOWN, failures_by_property

CONN = {"host": "127.0.10.11", "username": "Administrator", "password": "pw"}
GOOD = {"connection": CONN, "cluster_name": "CLUSTER1", "disk_serial": "SER-STORAGE", "label": "VMStorage"}


def test_check_and_defaults():
    result = SharedVolumeProvider().check({}, {k: v for k, v in GOOD.items() if k != "label"})
    assert result.failures == [] and result.inputs["label"] == "CSV"
    bad = SharedVolumeProvider().check({}, {**GOOD, "cluster_name": "bad name", "disk_serial": ""})
    props = set(failures_by_property(bad.failures))
    assert props == {"cluster_name", "disk_serial"}


def test_label_change_is_refused_at_preview():
    result = SharedVolumeProvider().check(GOOD, {**GOOD, "label": "Other"})
    assert list(failures_by_property(result.failures)) == ["label"]
    assert "Set-Volume" in failures_by_property(result.failures)["label"]
    # a different disk is a replacement, where a new label is fine
    assert SharedVolumeProvider().check(GOOD, {**GOOD, "label": "Other", "disk_serial": "SER-2"}).failures == []


def test_diff_table():
    p = SharedVolumeProvider()
    olds = {**SharedVolumeProvider().check({}, GOOD).inputs, "path": "C:\\ClusterStorage\\Volume1"}
    assert p.diff("x", olds, p.check(olds, GOOD).inputs).changes is False
    d = p.diff("x", olds, p.check({}, {**GOOD, "disk_serial": "SER-2"}).inputs)
    assert d.replaces == ["disk_serial"] and d.delete_before_replace
    moved = p.diff("x", olds, p.check(olds, {**GOOD, "connection": {**CONN, "host": "127.0.10.12"}}).inputs)
    assert moved.changes and moved.replaces == []


def test_unknown_serial_or_cluster_is_decided_when_known():
    p = SharedVolumeProvider()
    olds = p.check({}, GOOD).inputs
    d = p.diff("x", olds, {**olds, "disk_serial": UNKNOWN, "cluster_name": UNKNOWN})
    assert d.changes and d.replaces == []


def test_a_grown_csv_is_extended_on_its_coordinator(monkeypatch):
    """Only the CSV's owner may resize its partition: Set on another node answers GrowOnNode, and the
    provider runs Set through alternate_connections until the owner did it (or says which node to add)."""
    from hvprovider import errors, transport

    hv01 = {**CONN, "host": "127.0.10.11"}
    hv02 = {**CONN, "host": "127.0.10.12"}
    calls = []
    owner = {"host": "127.0.10.12"}

    def run_script(conn, script, params, **kw):
        calls.append((conn["host"], params["DiskSizeBytes"]))
        grown = conn["host"] == owner["host"]
        return {"Placement": "ClusterSharedVolume", "Path": "C:\\ClusterStorage\\Volume1", "OwnerNode": "HV02",
                "SizeBytes": 4 if grown else 3, "GrowOnNode": "" if grown else "HV02"}

    monkeypatch.setattr(transport, "run_script", run_script)
    monkeypatch.setattr(transport, "run_script_any", lambda conns, s, p, **kw: run_script(conns[0], s, p))
    p = SharedVolumeProvider()
    inputs = p.check({}, {**GOOD, "connection": hv01, "alternate_connections": [hv02], "disk_size_bytes": "4GB"}).inputs
    assert p.ensure(inputs, None)["size_bytes"] == 4
    assert calls == [("127.0.10.11", 4 * 1024 ** 3), ("127.0.10.12", 4 * 1024 ** 3)]

    owner["host"] = "127.0.10.13"       # the owner is reached by no connection: a clear error, no guess
    try:
        p.ensure(inputs, None)
        raise AssertionError("expected InputError")
    except errors.InputError as exc:
        assert exc.prop == "alternate_connections" and "HV02" in str(exc)
