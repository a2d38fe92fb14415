"""FailoverCluster check/diff: the argument spec and the diff table, before any WinRM call."""
from hvprovider.failover_cluster import FailoverClusterProvider, summarize_validation
from hvprovider.validation import UNKNOWN, failures_by_property

CONN = {"host": "127.0.10.11", "username": "Administrator", "password": "pw"}
GOOD = {
    "connection": CONN, "domain_username": "HYPER\\Administrator", "domain_password": "secret",
    "name": "CLUSTER1", "nodes": ["HV01", "hv02.hyper.local"], "static_address": "192.168.10.20",
    "witness_disk_serial": "SER-QUORUM",
}


def failures(news, olds=None):
    result = FailoverClusterProvider().check(olds or {}, news)
    return failures_by_property(result.failures), result.inputs


def test_valid_inputs_get_defaults():
    errs, inputs = failures(GOOD)
    assert errs == {}
    assert inputs["skip_validation"] is False and inputs["disk_wait_seconds"] == 300


def test_bad_inputs_name_the_property_and_what_is_allowed():
    errs, _ = failures({**GOOD, "name": "A-CLUSTER-NAME-TOO-LONG", "static_address": "192.168.10",
                        "nodes": ["HV01", "hv01.hyper.local", "bad name"]})
    assert "NetBIOS" in errs["name"] and "15" in errs["name"]
    assert "IPv4" in errs["static_address"]
    assert "node name" in errs["nodes[2]"]


def test_duplicate_and_missing_nodes():
    errs, _ = failures({**GOOD, "nodes": ["HV01", "hv01.hyper.local"]})
    assert "listed twice" in errs["nodes[1]"]
    errs, _ = failures({**GOOD, "nodes": []})
    assert "at least one" in errs["nodes"]


def test_missing_password_and_unknown_property():
    news = {k: v for k, v in GOOD.items() if k != "domain_password"}
    errs, _ = failures({**news, "colour": "blue"})
    assert "required" in errs["domain_password"]
    assert "unknown property" in errs["colour"]


def outputs(**over):
    return {**FailoverClusterProvider().check({}, GOOD).inputs, "fqdn": "cluster1.hyper.local", **over}


def test_diff_table():
    p = FailoverClusterProvider()
    olds = outputs()

    def checked(news):  # the engine diffs the inputs check returned
        return p.check(olds, news).inputs

    same = p.diff("CLUSTER1", olds, {**checked(GOOD), "nodes": ["hv02", "HV01.hyper.local"], "skip_validation": True})
    assert same.changes is False
    nodes = p.diff("CLUSTER1", olds, checked({**GOOD, "nodes": ["HV01", "HV02", "HV03"]}))
    assert nodes.changes and nodes.replaces == []
    witness = p.diff("CLUSTER1", olds, checked({**GOOD, "witness_disk_serial": UNKNOWN}))
    assert witness.changes and witness.replaces == []
    moved = p.diff("CLUSTER1", olds, checked({**GOOD, "static_address": "192.168.10.21", "name": "CLUSTER2"}))
    assert sorted(moved.replaces) == ["name", "static_address"] and moved.delete_before_replace
    other_node = p.diff("CLUSTER1", olds, checked({**GOOD, "connection": {**CONN, "host": "127.0.10.12"}}))
    assert other_node.changes and other_node.replaces == []


def test_validation_summary():
    assert summarize_validation({"Outcome": "Passed", "Report": "C:\\r.htm", "Messages": []}) == ("Passed", "C:\\r.htm", "passed")
    outcome, _, summary = summarize_validation({"Outcome": "PassedWithWarnings", "Report": "r", "Messages": ["a", "b"],
                                                "Verdict": "ClusterConditionallyApproved"})
    assert outcome == "PassedWithWarnings"
    assert summary == "passed with warnings (ClusterConditionallyApproved): a; b"
    assert summarize_validation({"Outcome": "Skipped"})[2].startswith("skipped")
