"""ClusterNode's provider calls in process against hvsim (real pywinrm, no engine): the paths the
engine scenario does not take. The provider methods are what the engine calls; check() first."""
import pytest

from hvprovider.validation import failures_by_property

from hvprovider import errors
from hvprovider.cluster_node import ClusterNodeProvider


def node_inputs(lab, host, **over):
    user, password = lab.credentials(host)
    ep = lab.host_endpoint(host)
    duser, dpassword = lab.credentials(host, domain=True)
    news = {"connection": {"host": ep["address"], "port": ep["http_port"], "username": user, "password": password},
            "domain_name": "hyper.local", "domain_join_username": duser, "domain_join_password": dpassword,
            **over}
    result = ClusterNodeProvider().check({}, news)
    assert result.failures == []
    return result.inputs


def mutating(records):
    return [r["cmdlet"] for r in records if r.get("kind") == "cmdlet" and r.get("mutating")]


def test_restart_is_refused_when_not_allowed(hvsim_lab):
    inputs = node_inputs(hvsim_lab, "HV01", allow_restart=False)
    with pytest.raises(errors.InputError) as info:
        ClusterNodeProvider().create(inputs)
    assert "allow_restart" in str(info.value) and "needs a restart" in str(info.value)
    assert not [r for r in hvsim_lab.audit() if r.get("kind") == "boot" and r.get("host") == "HV01"]


def test_ready_node_is_adopted_without_changes_and_delete_flags_undo_features_and_domain(hvsim_lab):
    lab = hvsim_lab
    provider = ClusterNodeProvider()
    # a switch name with a wildcard character: Hyper-V's -Name parameters would read it as a pattern
    inputs = node_inputs(lab, "HV02", features=["Hyper-V", "Hyper-V-PowerShell"], credssp=False,
                         switch_name="VMNet*", switch_adapter="Ethernet 2",
                         remove_features_on_delete=True, leave_domain_on_delete=True)
    first = provider.create(inputs)
    assert first.outs["restarts"] == 1 and first.outs["domain"] == "hyper.local"
    assert lab.world()["hosts"]["HV02"]["features"]["Hyper-V"]["state"] == "Installed"
    switches = lab.world()["hosts"]["HV02"]["hyperv"]["switches"]
    assert [(s["id"], s["name"]) for s in switches.values()] == [(first.outs["switch_id"], "VMNet*")]
    # somebody else's switch that the pattern would match
    made = lab.session("HV02").run_ps("New-VMSwitch -Name 'VMNet' -SwitchType Internal | Out-Null")
    assert made.status_code == 0, made.std_err

    # creating again over a ready host (what adoption does): nothing to change, no restart
    n = len(lab.audit())
    again = provider.create(inputs)
    assert again.outs["restarts"] == 0 and again.outs["last_changes"] == []
    assert mutating(lab.audit()[n:]) == []

    # refresh reports the host in input terms
    read = provider.read(first.id, first.outs)
    assert read.outs["features"] == ["Hyper-V", "Hyper-V-PowerShell"] and read.outs["domain_name"] == "hyper.local"

    # renaming the switch in the program rebuilds the recorded one (the NIC is bound to it); the
    # same-named-by-pattern 'VMNet' stays
    renamed = provider.update(first.id, first.outs, {**inputs, "switch_name": "VMNet[2]"})
    names = {s["id"]: s["name"] for s in lab.world()["hosts"]["HV02"]["hyperv"]["switches"].values()}
    assert sorted(names.values()) == ["VMNet", "VMNet[2]"] and names[renamed.outs["switch_id"]] == "VMNet[2]"

    # delete with both flags: features uninstalled and the domain left, after a restart
    provider.delete(first.id, {**first.outs, **renamed.outs})
    h = lab.world()["hosts"]["HV02"]
    assert [s["name"] for s in h["hyperv"]["switches"].values()] == ["VMNet"]   # only its own switch went
    assert h["domain"] is None
    assert h["features"]["Hyper-V"]["state"] != "Installed"
    # and deleting again is a no-op (missing is success)
    provider.delete(first.id, {**first.outs, "remove_features_on_delete": False, "leave_domain_on_delete": False})


def test_disk_sizes_check_and_drift():
    base = {"connection": {"host": "127.0.10.11", "username": "Administrator", "password": "pw"},
            "disk_serial_numbers": ["SER-A", "SER-B"]}
    bad = ClusterNodeProvider().check({}, {**base, "disk_sizes": ["1GB"]})
    failures = failures_by_property(bad.failures)
    assert list(failures) == ["disk_sizes"] and "one size per serial" in failures["disk_sizes"]
    inputs = ClusterNodeProvider().check({}, {**base, "disk_sizes": ["1GB", "3GB"]}).inputs
    assert inputs["disk_sizes"] == [1024 ** 3, 3 * 1024 ** 3]
    # a LUN the host sees smaller (grown, not rescanned) is drift; one it sees larger fulfils the input
    state = {"Disks": [{"SerialNumber": "SER-A", "Size": 2 * 1024 ** 3}, {"SerialNumber": "SER-B", "Size": 1024 ** 3}]}
    observed = ClusterNodeProvider._observed_inputs(inputs, state)
    assert observed["disk_sizes"] == [1024 ** 3, 1024 ** 3]


def test_a_node_without_disk_sizes_shows_no_change_for_it():
    base = {"connection": {"host": "127.0.10.11", "username": "Administrator", "password": "pw"},
            "disk_serial_numbers": ["SER-A"]}
    provider = ClusterNodeProvider()
    olds = {k: v for k, v in provider.check({}, base).inputs.items() if k != "disk_sizes"}  # state of older code
    assert provider.diff("x", olds, provider.check(olds, base).inputs).changes is False
