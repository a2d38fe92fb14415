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
