"""What check returns for a preview (derived and kept outputs) and what read returns as inputs
(docs/provider.md, "Outputs, refresh and preview")."""
import re

from pulumi.output import Unknown

from hvprovider.cluster_node import ClusterNodeProvider
from hvprovider.highly_available_vm import HighlyAvailableVMProvider
from hvprovider.iscsi_target import IscsiTargetProvider
from hvprovider.iscsi_volume import IscsiVolumeProvider

CONN = {"host": "127.0.10.10", "username": "Administrator", "password": "pw"}
IQN = "iqn.1991-05.com.microsoft:dc01-cluster1-target"
REPR = re.compile(r"object at 0x")


def target_olds(**extra):
    provider = IscsiTargetProvider()
    olds = provider.check({}, {"connection": CONN, "target_name": "cluster1",
                               "initiator_ids": ["DNSName:hv01.hyper.local"]}).inputs
    return provider, olds, {**olds, "target_iqn": IQN, "adopted": False, **extra}


def test_kept_output_is_known_while_its_inputs_are_unchanged():
    provider, olds, old_outputs = target_olds()
    news = {"connection": CONN, "target_name": "cluster1",
            "initiator_ids": ["DNSName:hv01.hyper.local", "DNSName:hv02.hyper.local"]}
    checked = provider.known_outputs(provider.check(olds, news).inputs, olds, old_outputs)
    assert checked == {"target_iqn": IQN}
    # a new target name is a new IQN: unknown until the replacement ran
    renamed = provider.check(olds, {**news, "target_name": "cluster2"}).inputs
    assert provider.known_outputs(renamed, olds, old_outputs) == {}
    # a check with old inputs that already carry it (after an update or a refresh) keeps it too
    assert provider.check(old_outputs, news).inputs["target_iqn"] == IQN
    # never at create
    assert "target_iqn" not in provider.check({}, news).inputs


def test_volume_serial_survives_a_grow_but_not_a_new_path():
    provider = IscsiVolumeProvider()
    news = {"connection": CONN, "path": "C:\\iSCSIVirtualDisks\\storage.vhdx", "size_bytes": "4GB",
            "target_name": "cluster1"}
    olds = provider.check({}, news).inputs
    old_outputs = {**olds, "serial_number": "SER1", "mapped_lun": 1, "adopted": False}
    grown = provider.check(old_outputs, {**news, "size_bytes": "5GB"}).inputs
    assert (grown["serial_number"], grown["mapped_lun"]) == ("SER1", 1)
    moved = provider.check(old_outputs, {**news, "path": "C:\\iSCSIVirtualDisks\\other.vhdx"}).inputs
    assert "serial_number" not in moved and "mapped_lun" not in moved


def test_delete_policy_waits_for_unknown_values_and_never_shows_a_repr():
    provider = ClusterNodeProvider()
    news = {"connection": CONN, "target_portal_address": "192.168.10.10", "target_iqns": [Unknown()]}
    checked = provider.check({}, news)
    assert checked.failures == [] and "delete_policy" not in checked.inputs
    assert not any(REPR.search(str(v)) for v in checked.inputs.values() if isinstance(v, str))
    known = provider.check({}, {**news, "target_iqns": [IQN]}).inputs["delete_policy"]
    assert known.startswith(f"delete will disconnect iSCSI targets {IQN};")


def test_vm_error_text_without_a_known_name():
    provider = HighlyAvailableVMProvider()
    olds = {"state": "Running", "memory_startup_bytes": 1024 ** 3, "processor_count": 1}
    news = {"state": "Running", "memory_startup_bytes": 2 * 1024 ** 3, "processor_count": 1, "name": Unknown()}
    [failure] = provider.check_more(olds, news)
    assert "needs the VM turned off" in failure.reason and not REPR.search(failure.reason)


def test_read_returns_the_observed_values_as_inputs():
    provider, _, old_outputs = target_olds()
    drifted = {**old_outputs, "initiator_ids": ["DNSName:hv02.hyper.local"]}
    inputs = provider.read_inputs(drifted)
    assert inputs["initiator_ids"] == ["DNSName:hv02.hyper.local"]
    assert inputs["target_iqn"] == IQN and "adopted" not in inputs
    assert set(inputs) == {p.name for p in provider.SPEC} | {"target_iqn"}
