"""FailoverClusters emulation at the registry level: validation, creation, the double hop, disks,
quorum, Cluster Shared Volumes and teardown, on the LAB.md lab (DC01 + HV01/HV02 over iSCSI)."""
from __future__ import annotations

import pytest

from hvsim.cmdlets.registry import CmdletError
from hvsim.powershell.conversions import to_string
from hvsim.world import files
from hvsim.world import storage as st

from test_cluster_helpers import GB, SWITCH, build_cluster, build_csv, build_vm, lab_world, run, run_ctx


@pytest.fixture
def lab(tmp_path):
    return lab_world(tmp_path)


def _cluster(world):
    return world.data["clusters"]["CLUSTER1"]


def test_the_lab_md_cluster_sequence(lab):
    # validation: an .htm report in the host's files, the verdict as a warning
    out, ctx = run_ctx(lab, "HV01", "Test-Cluster", Node=["HV01", "HV02"])
    report = out[0]
    assert report.type_name == "System.IO.FileInfo"
    assert report.get_prop("FullName").startswith("C:\\Windows\\Cluster\\Reports\\Validation Report ")
    assert report.get_prop("Extension") == ".htm"
    entry = files.get(lab.host("HV01"), report.get_prop("FullName"))
    assert entry is not None and "Validation Result: ClusterConditionallyApproved" in entry["content"]
    assert any(w.startswith("Test Result:\r\nClusterConditionallyApproved") for w in ctx.warnings)
    assert lab.data["cluster_validations"][-1]["errors"] == []

    cluster = run(lab, "HV01", "New-Cluster", Name="CLUSTER1", Node=["HV01", "HV02"],
                  StaticAddress=["192.168.10.20"], NoStorage=SWITCH)[0]
    assert cluster.get_prop("Name") == "CLUSTER1" and cluster.get_prop("Domain") == "hyper.local"
    nodes = run(lab, "HV02", "Get-ClusterNode")
    assert [(n.get_prop("Name"), str(n.get_prop("State"))) for n in nodes] == [("HV01", "Up"), ("HV02", "Up")]
    assert lab.data["domain"]["cluster_objects"]["CLUSTER1"]["enabled"] is True
    assert lab.host("HV02")["services"]["ClusSvc"]["start_type"] == "Automatic"
    groups = {g.get_prop("Name"): str(g.get_prop("GroupType")) for g in run(lab, "HV01", "Get-ClusterGroup")}
    assert groups == {"Available Storage": "AvailableStorage", "Cluster Group": "Cluster"}
    ip = run(lab, "HV01", "Get-ClusterResource", Name="Cluster IP Address")[0]
    assert run(lab, "HV01", "Get-ClusterParameter", Name="Address", _pipeline=[ip])[0].get_prop("Value") == "192.168.10.20"
    # -NoStorage: no disk was taken
    assert not any(r.get("disk") for r in _cluster(lab)["resources"].values())

    # disks: both LUNs are available, named in order; Add-ClusterDisk takes them from the pipeline
    avail = run(lab, "HV01", "Get-ClusterAvailableDisk")
    assert sorted(a.get_prop("Size") for a in avail) == [1 * GB, 40 * GB]
    assert [a.get_prop("Name") for a in avail] == ["Cluster Disk 1", "Cluster Disk 2"]
    added = run(lab, "HV01", "Add-ClusterDisk", _pipeline=avail)
    assert {r.get_prop("Name") for r in added} == {"Cluster Disk 1", "Cluster Disk 2"}
    assert run(lab, "HV01", "Get-ClusterAvailableDisk") == []
    quorum = next(r for r in added if _cluster(lab)["resources"][r.get_prop("Name")]["disk"]["size"] == 1 * GB)
    uid = _cluster(lab)["resources"][quorum.get_prop("Name")]["disk"]["unique_id"]
    # the owner node has it online; the other node sees it offline and clustered
    owner_view = run(lab, "HV01", "Get-Disk", UniqueId=uid)[0]
    other_view = run(lab, "HV02", "Get-Disk", UniqueId=uid)[0]
    assert owner_view.get_prop("IsOffline") is False and other_view.get_prop("IsOffline") is True
    assert other_view.get_prop("IsClustered") is True
    # identity by GUID: DiskIdGuid is the disk's Guid
    params = {x.get_prop("Name"): x.get_prop("Value") for x in run(lab, "HV01", "Get-ClusterParameter", _pipeline=[quorum])}
    assert params["DiskIdGuid"] == owner_view.get_prop("Guid") and params["DiskSignature"] == 0

    # quorum: disk witness; the witness disk joins the core group
    run(lab, "HV01", "Set-ClusterQuorum", DiskWitness=quorum.get_prop("Name"))
    q = run(lab, "HV02", "Get-ClusterQuorum")[0]
    assert q.get_prop("QuorumResource").get_prop("Name") == quorum.get_prop("Name")
    assert to_string(q.get_prop("QuorumResource").get_prop("OwnerGroup")) == "Cluster Group"

    # CSV: C:\ClusterStorage\Volume1 on every node
    storage_name = next(r.get_prop("Name") for r in added if r.get_prop("Name") != quorum.get_prop("Name"))
    csv = run(lab, "HV01", "Add-ClusterSharedVolume", Name=storage_name)[0]
    info = csv.get_prop("SharedVolumeInfo")[0]
    assert info.get_prop("FriendlyVolumeName") == "C:\\ClusterStorage\\Volume1"
    part = info.get_prop("Partition")
    assert part.get_prop("Size") > 39 * GB and 0 < part.get_prop("FreeSpace") <= part.get_prop("Size")
    for node in ("HV01", "HV02"):
        assert files.get(lab.host(node), "C:\\ClusterStorage\\Volume1")["kind"] == "dir"
    # the witness cannot become a CSV, and a CSV cannot become the witness
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV01", "Add-ClusterSharedVolume", Name=quorum.get_prop("Name"))
    assert "disk witness" in exc.value.message
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV01", "Set-ClusterQuorum", DiskWitness=storage_name)
    assert "Cluster Shared Volume cannot be used as the disk witness" in exc.value.message
    assert exc.value.error_id == "Set-ClusterQuorum,Microsoft.FailoverClusters.PowerShell.SetClusterQuorumCommand"

    # teardown keeps the CNO unless -CleanupAD
    run(lab, "HV01", "Remove-Cluster", Force=SWITCH)
    assert lab.data["clusters"] == {}
    assert lab.data["domain"]["cluster_objects"]["CLUSTER1"]["enabled"] is False
    assert st.reservation(lab, uid) is None
    assert files.get(lab.host("HV02"), "C:\\ClusterStorage\\Volume1") is None
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV01", "Get-Cluster")
    assert exc.value.error_id == "ClusterEndpointNotRegistered,Microsoft.FailoverClusters.PowerShell.GetClusterCommand"


def test_remove_cluster_cleanup_ad_deletes_the_cluster_name_object(lab):
    build_cluster(lab)
    run(lab, "HV02", "Remove-Cluster", Force=SWITCH, CleanupAD=SWITCH)
    assert "CLUSTER1" not in lab.data["domain"]["cluster_objects"]
    assert lab.host("HV01")["services"]["ClusSvc"]["status"] == "Stopped"


@pytest.mark.parametrize("command, params, text", [
    ("New-Cluster", {"Name": "CLUSTER1", "Node": ["HV01", "HV02"], "StaticAddress": ["192.168.10.20"],
                     "NoStorage": SWITCH},
     "There was an error adding node 'HV01' to the cluster\r\n"
     "    You do not have administrative privileges on the server 'hv01.hyper.local'.\r\n"
     "    Requested registry access is not allowed."),
    ("Test-Cluster", {"Node": ["HV01", "HV02"]},
     "You do not have administrative privileges on the server 'HV01'."),
])
def test_the_double_hop_fails_like_windows_and_delegation_fixes_it(lab, command, params, text):
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV01", command, _delegate=False, **params)
    assert exc.value.message == text
    assert exc.value.exception_type == "Microsoft.FailoverClusters.PowerShell.ClusterCmdletException"
    assert exc.value.error_id.startswith(f"{command},Microsoft.FailoverClusters.PowerShell.")
    assert lab.data["clusters"] == {} and not lab.data.get("cluster_validations")
    # the same call with a delegable credential (CredSSP) succeeds
    assert run(lab, "HV01", command, _delegate=True, **params)


def test_add_and_remove_node_need_delegation_too(lab):
    run(lab, "HV01", "New-Cluster", Name="CLUSTER1", Node=["HV01"], StaticAddress=["192.168.10.20"], NoStorage=SWITCH)
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV01", "Add-ClusterNode", Name="HV02", NoStorage=SWITCH, _delegate=False)
    assert "You do not have administrative privileges on the server 'hv02.hyper.local'." in exc.value.message
    assert list(_cluster(lab)["nodes"]) == ["HV01"]
    run(lab, "HV01", "Add-ClusterNode", Name="HV02", NoStorage=SWITCH)
    assert sorted(_cluster(lab)["nodes"]) == ["HV01", "HV02"]
    assert not any(r.get("disk") for r in _cluster(lab)["resources"].values())
    with pytest.raises(CmdletError):
        run(lab, "HV01", "Remove-ClusterNode", Name="HV02", Force=SWITCH, _delegate=False)
    run(lab, "HV01", "Remove-ClusterNode", Name="HV02", Force=SWITCH)
    assert list(_cluster(lab)["nodes"]) == ["HV01"]


def test_add_cluster_node_without_nostorage_grabs_every_shared_disk(lab):
    run(lab, "HV01", "New-Cluster", Name="CLUSTER1", Node=["HV01"], StaticAddress=["192.168.10.20"], NoStorage=SWITCH)
    run(lab, "HV01", "Add-ClusterNode", Name="HV02")
    disks = [r for r in _cluster(lab)["resources"].values() if r.get("disk")]
    assert len(disks) == 2


def test_new_cluster_without_nostorage_takes_the_disks_and_picks_the_small_one_as_witness(lab):
    run(lab, "HV01", "New-Cluster", Name="CLUSTER1", Node=["HV01", "HV02"], StaticAddress=["192.168.10.20"])
    c = _cluster(lab)
    assert len([r for r in c["resources"].values() if r.get("disk")]) == 2
    witness = c["resources"][c["quorum"]["resource"]]
    assert witness["disk"]["size"] == 1 * GB and witness["group"] == "Cluster Group"


def test_nodes_must_have_failover_clustering_and_be_domain_members(lab):
    with lab.transaction() as data:
        data["hosts"]["HV02"]["features"]["Failover-Clustering"] = {"state": "Available"}
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV01", "New-Cluster", Name="CLUSTER1", Node=["HV01", "HV02"], StaticAddress=["192.168.10.20"])
    assert "There was an error adding node 'HV02' to the cluster" in exc.value.message
    assert "does not have the Failover Clustering feature installed" in exc.value.message
    out, ctx = run_ctx(lab, "HV01", "Test-Cluster", Node=["HV01", "HV02"])
    assert any(w.startswith("Test Result:\r\nClusterNotApproved") for w in ctx.warnings)
    with lab.transaction() as data:
        data["hosts"]["HV02"]["features"]["Failover-Clustering"] = {"state": "Installed"}
        data["hosts"]["HV02"]["domain"] = None
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV01", "New-Cluster", Name="CLUSTER1", Node=["HV01", "HV02"], StaticAddress=["192.168.10.20"])
    assert "is not joined to the domain 'hyper.local'" in exc.value.message
    assert lab.data["clusters"] == {}


def test_a_node_of_a_cluster_cannot_join_another(lab):
    build_cluster(lab)
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV01", "New-Cluster", Name="CLUSTER2", Node=["HV02"], StaticAddress=["192.168.10.21"])
    assert "The computer 'hv02.hyper.local' is joined to a cluster." in exc.value.message


def test_test_cluster_warns_about_switch_names_and_missing_shared_disks(tmp_path):
    world = lab_world(tmp_path, storage=False)        # the nodes never connected to the iSCSI target
    run(world, "HV01", "New-VMSwitch", Name="External", NetAdapterName="Ethernet")
    run(world, "HV02", "New-VMSwitch", Name="LAN", NetAdapterName="Ethernet")
    out, ctx = run_ctx(world, "HV01", "Test-Cluster", Node=["HV01", "HV02"], ReportName="C:\\Reports\\lab")
    assert out[0].get_prop("FullName") == "C:\\Reports\\lab.htm"
    text = "\n".join(ctx.warnings)
    assert "No disks were found on which to perform cluster validation tests" in text
    assert "virtual switches are not present on every node with the same name: external, lan" in text


def test_csv_paths_take_the_lowest_free_number(lab):
    build_cluster(lab, witness=False)
    first = run(lab, "HV01", "Add-ClusterSharedVolume", Name="Cluster Disk 1")[0]
    second = run(lab, "HV01", "Add-ClusterSharedVolume", Name="Cluster Disk 2")[0]
    path = lambda o: o.get_prop("SharedVolumeInfo")[0].get_prop("FriendlyVolumeName")  # noqa: E731
    assert [path(first), path(second)] == ["C:\\ClusterStorage\\Volume1", "C:\\ClusterStorage\\Volume2"]
    run(lab, "HV01", "Remove-ClusterSharedVolume", Name="Cluster Disk 1")
    assert files.get(lab.host("HV02"), "C:\\ClusterStorage\\Volume1") is None
    assert to_string(run(lab, "HV01", "Get-ClusterResource", Name="Cluster Disk 1")[0].get_prop("OwnerGroup")) == "Available Storage"
    again = run(lab, "HV01", "Add-ClusterSharedVolume", Name="Cluster Disk 1")[0]
    assert path(again) == "C:\\ClusterStorage\\Volume1"
    listed = [path(v) for v in run(lab, "HV02", "Get-ClusterSharedVolume")]
    assert listed == ["C:\\ClusterStorage\\Volume1", "C:\\ClusterStorage\\Volume2"]


def test_csv_files_are_shared_by_every_node(lab):
    build_cluster(lab)
    path = build_csv(lab)
    # a file Hyper-V writes on HV01 is on HV02 too
    build_vm(lab, path)
    vhd = f"{path}\\VM1\\Virtual Hard Disks\\VM1.vhdx"
    assert files.get(lab.host("HV02"), vhd)["size"] == files.get(lab.host("HV01"), vhd)["size"]
    # a file created directly on HV02 (as New-Item does) reaches HV01 at the next cluster operation
    with lab.transaction():
        files.put_file(lab.host("HV02"), f"{path}\\iso\\setup.iso", 5 * GB)
    run(lab, "HV01", "Get-ClusterSharedVolume")
    assert files.get(lab.host("HV01"), f"{path}\\iso\\setup.iso")["size"] == 5 * GB
    free = run(lab, "HV01", "Get-ClusterSharedVolume")[0].get_prop("SharedVolumeInfo")[0].get_prop("Partition")
    assert free.get_prop("Size") - free.get_prop("FreeSpace") >= 5 * GB
    # ... and a deletion on HV01 removes it everywhere
    with lab.transaction():
        files.remove(lab.host("HV01"), f"{path}\\iso", recurse=True)
    run(lab, "HV02", "Get-ClusterSharedVolume")
    assert files.get(lab.host("HV02"), f"{path}\\iso\\setup.iso") is None
    # DC01 is not a node: no CSV namespace there
    assert files.get(lab.host("DC01"), path) is None


def test_remove_cluster_resource_frees_the_disk(lab):
    build_cluster(lab, witness=False)
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV01", "Get-ClusterResource", Name="Cluster Disk 9")
    assert exc.value.category == "ObjectNotFound"
    assert [r.get_prop("Name") for r in run(lab, "HV01", "Get-ClusterResource", Name="cluster disk 1")] == ["Cluster Disk 1"]
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV01", "Get-ClusterGroup", Name="NoSuchRole")
    assert exc.value.message.startswith("An error occurred opening cluster group 'NoSuchRole'.")
    assert [g.get_prop("Name") for g in run(lab, "HV01", "Get-ClusterGroup", Name="available storage")] == \
        ["Available Storage"]
    uid = _cluster(lab)["resources"]["Cluster Disk 1"]["disk"]["unique_id"]
    run(lab, "HV01", "Remove-ClusterResource", Name="Cluster Disk 1", Force=SWITCH)
    assert st.reservation(lab, uid) is None
    assert [a.get_prop("Name") for a in run(lab, "HV01", "Get-ClusterAvailableDisk")] == ["Cluster Disk 1"]


def test_disks_are_picked_by_identity_not_number(lab):
    run(lab, "HV01", "New-Cluster", Name="CLUSTER1", Node=["HV01", "HV02"], StaticAddress=["192.168.10.20"],
        NoStorage=SWITCH)
    storage_disk = next(d for d in run(lab, "HV02", "Get-Disk") if d.get_prop("Size") == 40 * GB)
    uid = storage_disk.get_prop("UniqueId")
    # Get-Disk -UniqueId <id> | Get-ClusterAvailableDisk | Add-ClusterDisk (run on the other node)
    picked = run(lab, "HV02", "Get-ClusterAvailableDisk", _pipeline=run(lab, "HV02", "Get-Disk", UniqueId=uid))
    assert [a.get_prop("Size") for a in picked] == [40 * GB]
    assert picked[0].get_prop("Id") == storage_disk.get_prop("Guid")
    res = run(lab, "HV02", "Add-ClusterDisk", _pipeline=picked)[0]
    assert res.get_prop("Name") == "Cluster Disk 1"
    assert _cluster(lab)["resources"]["Cluster Disk 1"]["disk"]["unique_id"] == uid
    assert [a.get_prop("Size") for a in run(lab, "HV01", "Get-ClusterAvailableDisk")] == [1 * GB]
    # the CSV answers DiskIdGuid too: the provider maps a CSV back to its disk
    run(lab, "HV01", "Add-ClusterSharedVolume", Name="Cluster Disk 1")
    csv = run(lab, "HV01", "Get-ClusterSharedVolume", Name="Cluster Disk 1")
    guid = run(lab, "HV01", "Get-ClusterParameter", Name="DiskIdGuid", _pipeline=csv)[0].get_prop("Value")
    assert guid == storage_disk.get_prop("Guid")
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV01", "Get-ClusterParameter", Name="NoSuchParameter", _pipeline=csv)
    assert exc.value.message.startswith("Parameter 'NoSuchParameter' does not exist on the cluster object")


def test_csv_data_stays_on_the_disk_across_remove_and_re_add(lab):
    build_cluster(lab)
    path = build_csv(lab)
    with lab.transaction():
        files.put_file(lab.host("HV01"), f"{path}\\data\\keep.txt", 1234)
    name = next(iter(_cluster(lab)["csvs"]))
    run(lab, "HV01", "Remove-ClusterSharedVolume", Name=name)
    run(lab, "HV01", "Remove-ClusterResource", Name=name, Force=SWITCH)
    assert files.get(lab.host("HV02"), f"{path}\\data\\keep.txt") is None
    # the quorum disk takes Volume1 meanwhile: the data comes back under Volume2
    run(lab, "HV01", "Set-ClusterQuorum", NoWitness=SWITCH)
    run(lab, "HV01", "Add-ClusterSharedVolume", Name="Cluster Disk 1")
    avail = run(lab, "HV02", "Get-ClusterAvailableDisk")
    [res] = run(lab, "HV02", "Add-ClusterDisk", _pipeline=avail)
    csv = run(lab, "HV02", "Add-ClusterSharedVolume", Name=res.get_prop("Name"))[0]
    assert csv.get_prop("SharedVolumeInfo")[0].get_prop("FriendlyVolumeName") == "C:\\ClusterStorage\\Volume2"
    entry = files.get(lab.host("HV01"), "C:\\ClusterStorage\\Volume2\\data\\keep.txt")
    assert entry["size"] == 1234 and entry["path"] == "C:\\ClusterStorage\\Volume2\\data\\keep.txt"
    assert files.get(lab.host("HV01"), "C:\\ClusterStorage\\Volume1\\data\\keep.txt") is None


def test_validation_fails_for_an_unreachable_node_or_mixed_os_versions(lab):
    with lab.transaction() as data:
        data["hosts"]["HV02"]["os"]["version"] = "10.0.17763"
    out, ctx = run_ctx(lab, "HV01", "Test-Cluster", Node=["HV01", "HV02"])
    assert any("Validate Operating System Version" in w for w in ctx.warnings)
    assert lab.data["cluster_validations"][-1]["result"] == "ClusterNotApproved"
    lab.power_off("HV02")
    out, ctx = run_ctx(lab, "HV01", "Test-Cluster", Node=["HV01", "HV02"], Include=["Inventory"])
    assert any(w.startswith("Inventory - Unable to connect to hv02.hyper.local via WMI") for w in ctx.warnings)
    assert lab.data["cluster_validations"][-1]["result"] == "HadUnselectedTests, ClusterNotApproved"
    with pytest.raises(CmdletError) as exc:
        run(lab, "HV01", "New-Cluster", Name="CLUSTER1", Node=["HV01", "HV02"], StaticAddress=["192.168.10.20"])
    assert "Unable to connect to hv02.hyper.local via WMI" in exc.value.message
