"""HighlyAvailableVM check/diff: Hyper-V's off-only changes refused at preview, owner drift rules."""
from hvprovider.highly_available_vm import HighlyAvailableVMProvider
from hvprovider.validation import UNKNOWN, failures_by_property

CONN = {"host": "127.0.10.11", "username": "Administrator", "password": "pw"}
GOOD = {
    "connection": CONN, "domain_username": "HYPER\\Administrator", "domain_password": "secret",
    "name": "TestVM", "path": "C:\\ClusterStorage\\Volume1", "memory_startup_bytes": "1GB",
    "disk_size_bytes": "20GB", "switch_name": "VMNet", "owner_node": "HV01",
}
P = HighlyAvailableVMProvider()
OLDS = P.check({}, GOOD).inputs


def test_sizes_are_normalized_and_defaults_filled():
    assert OLDS["memory_startup_bytes"] == 1024**3 and OLDS["disk_size_bytes"] == 20 * 1024**3
    assert (OLDS["state"], OLDS["migration_type"], OLDS["generation"]) == ("Running", "Live", 2)


def test_bad_values_are_refused():
    result = P.check({}, {**GOOD, "name": "a/b", "generation": 3, "state": "Paused", "memory_startup_bytes": "1KB"})
    props = set(failures_by_property(result.failures))
    assert props == {"name", "generation", "state", "memory_startup_bytes"}


def test_memory_change_of_running_vm_needs_consent():
    refused = P.check(OLDS, {**GOOD, "memory_startup_bytes": "2GB", "processor_count": 2})
    reasons = failures_by_property(refused.failures)
    assert set(reasons) == {"memory_startup_bytes", "processor_count"}
    assert "allow_restart_for_changes=True" in reasons["processor_count"]
    assert P.check(OLDS, {**GOOD, "memory_startup_bytes": "2GB", "allow_restart_for_changes": True}).failures == []
    assert P.check(OLDS, {**GOOD, "memory_startup_bytes": "2GB", "state": "Off"}).failures == []


def test_diff_owner_and_replacements():
    news = P.check(OLDS, GOOD).inputs
    assert P.diff("TestVM", OLDS, news).changes is False
    failed_over = {**OLDS, "owner_node": "HV02"}
    # the program pins HV01: moving back is an in-place update
    d = P.diff("TestVM", failed_over, news)
    assert d.changes and d.replaces == []
    # no pinned owner: wherever the cluster runs it is not drift
    assert P.diff("TestVM", failed_over, {**news, "owner_node": None}).changes is False
    assert P.diff("TestVM", OLDS, {**news, "owner_node": "hv01.hyper.local"}).changes is False
    d = P.diff("TestVM", OLDS, {**news, "generation": 1, "disk_size_bytes": 30 * 1024**3})
    assert sorted(d.replaces) == ["disk_size_bytes", "generation"] and d.delete_before_replace
    d = P.diff("TestVM", OLDS, {**news, "switch_name": "Other", "preferred_owners": ["HV02", "HV01"]})
    assert d.changes and d.replaces == []


def test_unknown_path_during_preview_is_not_a_replacement():
    # while the SharedVolume is updated, its path is unknown at preview: shown as an update; the real
    # diff at apply time (known path) decides
    news = P.check(OLDS, GOOD).inputs
    d = P.diff("TestVM", OLDS, {**news, "path": UNKNOWN})
    assert d.changes and d.replaces == []
    d = P.diff("TestVM", OLDS, {**news, "path": "C:\\ClusterStorage\\Volume2"})
    assert d.replaces == ["path"] and d.delete_before_replace


def test_vm_names_allow_what_a_folder_name_allows():
    # * and ? cannot be in a folder name (the VM's folder is <path>\\<name>): refused at preview;
    # [ ] can, and work literally (the scripts find the VM by its Id, never with Get-VM -Name)
    failures = failures_by_property(P.check({}, {**GOOD, "name": "web*"}).failures)
    assert "without \\ / : * ? \" < > |" in failures["name"]
    assert P.check({}, {**GOOD, "name": "web[1]"}).failures == []
    assert P.check({}, {**GOOD, "name": "DB 01 'prod' $(x);&"}).failures == []


def test_delete_acts_on_what_create_recorded():
    recorded = {**OLDS, "vm_id": "6a0d2c4e-0000-4000-8000-000000000001", "vhd_paths": ["C:\\V\\a.vhdx"],
                "created_folders": ["C:\\V\\TestVM"]}
    params = P.script_params(recorded, "Remove")
    assert (params["VMId"], params["VhdPaths"], params["CreatedFolders"]) == (
        recorded["vm_id"], ["C:\\V\\a.vhdx"], ["C:\\V\\TestVM"])
    # a state from before the files were recorded: the VM's own disk and New-VM's own folders
    legacy = {**OLDS, "vm_id": "x", "vhd_path": "C:\\ClusterStorage\\Volume1\\TestVM\\Virtual Hard Disks\\TestVM.vhdx"}
    params = P.script_params(legacy, "Remove")
    assert params["VhdPaths"] == [legacy["vhd_path"]]
    assert params["CreatedFolders"] == ["C:\\ClusterStorage\\Volume1\\TestVM",
                                        "C:\\ClusterStorage\\Volume1\\TestVM\\Virtual Hard Disks",
                                        "C:\\ClusterStorage\\Volume1\\TestVM\\Virtual Machines"]


def test_updates_keep_what_create_recorded():
    class Stub(HighlyAvailableVMProvider):
        def __init__(self, state):
            self.state, self.params = state, None

        def run_mode(self, props, mode):
            self.params = self.script_params(props, mode)
            return self.state

    running = {"Exists": True, "VMId": "6a0d2c4e-0000-4000-8000-000000000001", "OwnerNode": "HV01"}
    created = Stub({**running, "CreatedVhdPaths": ["C:\\V\\a.vhdx"], "CreatedFolders": []}).ensure(OLDS, None)
    assert (created["vhd_paths"], created["created_folders"]) == (["C:\\V\\a.vhdx"], [])
    olds = {**OLDS, **created}
    update = Stub(running)
    updated = update.ensure(OLDS, olds)
    assert (updated["vhd_paths"], updated["created_folders"]) == (["C:\\V\\a.vhdx"], [])
    assert update.params["VMId"] == running["VMId"]            # the update acts on the recorded VM
    # a state from before these were recorded stays "not recorded" (delete then falls back)
    legacy = Stub(running).ensure(OLDS, {**OLDS, "vm_id": running["VMId"]})
    assert legacy["vhd_paths"] is None and legacy["created_folders"] is None
