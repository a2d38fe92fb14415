"""Windows' default table views when output reaches the host unformatted (hvsim/powershell/formatting.py).

Sources of headers, widths, alignment and layout:
- The table writer (Windows PowerShell 5.1's TableWriter / ColumnWidthManager): minimum column width 1,
  one blank between columns, columns without a width share the rest of the line one character at a
  time from the left, a too-wide table loses columns from the right, cells padded to their column,
  longer text cut to width-3 characters plus "...", headers wrapped within their column, dashes as long
  as the header (at most the column). The console is 120 columns (119 usable).
- A real Windows Server 2019/2022 session transcript published on GitHub (Get-Disk, Install-WindowsFeature,
  Get-ClusterResource, Add-ClusterSharedVolume, New-Cluster outputs): the Server 2016+ Get-Disk view
  (Number 6, Friendly Name sharing the rest, Serial Number 32, HealthStatus 20, OperationalStatus 22,
  Total Size 10 right-aligned, Partition Style 10 with its header wrapped), Feature Result 45, the
  FailoverClusters views sized from their objects (Name/State/OwnerGroup/ResourceType, Name/State/Node).
- Get-Service: PowerShell-Docs reference/5.1/Microsoft.PowerShell.Core/About/about_Arrays.md (Status 8,
  Name 18, DisplayName 38; "AudioEndpointBu..." shows the cut).
- Get-ClusterNode columns: winserver2019-ps/FailoverClusters/Get-ClusterNode.md example 1 (Name, ID, State);
  Get-ClusterGroup columns: Get-ClusterGroup.md example 1 (Name, OwnerNode, State).
- Get-VM: winserver2022-ps/Hyper-V/Compare-VM.md (the VirtualMachine view sized from its objects,
  CPUUsage(%) / MemoryAssigned(M) headers); the Server 2016+ module's columns add Version.
- Get-WindowsFeature: ServerManager's view (Display Name 55 with the "[X] " tree, Name 26, Install State
  13 right-aligned).
"""
from __future__ import annotations

import pytest

from hvsim.cmdlets.registry import CmdletContext, Session
from hvsim.powershell import execute
from hvsim.powershell.formatting import render_output
from hvsim.powershell.values import PSEnum, PSObject
from hvsim.world import World

LAB = {
    "time_factor": 0.001,
    "domain": {"fqdn": "hyper.local", "netbios": "HYPER", "controller": "DC01",
               "users": {"Administrator": {"password": "Dom-Pass1"}}},
    "hosts": {"DC01": {"domain_member": True, "local_users": {"Administrator": {"password": "Dc-Local1"}}},
              "HV01": {"local_users": {"Administrator": {"password": "Hv1-Local"}}}},
}


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path / "state", lab=LAB)
    yield w
    w.close()


def ps(world, script):
    res = execute(script, CmdletContext(world, Session("HV01", "HV01\\Administrator", "ntlm", False)), None)
    assert res.errors == [], [e.message for e in res.errors]
    return res.stdout.replace("\r\n", "\n").split("\n")


def test_get_service_view(world):
    assert ps(world, "Get-Service MSiSCSI, WinRM")[:6] == [
        "",
        "Status   Name               DisplayName                           ",
        "------   ----               -----------                           ",
        "Stopped  MSiSCSI            Microsoft iSCSI Initiator Service     ",
        "Running  WinRM              Windows Remote Management (WS-Manag...",
        ""]


def test_get_disk_view_and_number_type(world):
    lines = ps(world, "Get-Disk; (Get-Disk -Number 0).Number.GetType().FullName; (Get-Disk)[0].Number -is [uint32]")
    assert [line.rstrip() for line in lines[1:5]] == [
        "Number Friendly Name Serial Number                    HealthStatus         OperationalStatus      Total Size Partition",
        "                                                                                                             Style",
        "------ ------------- -------------                    ------------         -----------------      ---------- ----------",
        "0      Msft Virtu... " + lines[4][21:53] + " Healthy              Online                     127 GB GPT"]
    assert len(lines[1]) == 119 and lines[1].endswith("Partition ")
    assert lines[-3:-1] == ["System.UInt32", "True"]


def test_windows_feature_views(world):
    lines = ps(world, "Get-WindowsFeature Failover-Clustering, RSAT-Clustering*; "
                      "Install-WindowsFeature Failover-Clustering -IncludeManagementTools")
    assert lines[1:7] == [
        "Display Name                                            Name                       Install State",
        "------------                                            ----                       -------------",
        "[ ] Failover Clustering                                 Failover-Clustering            Available",
        "        [ ] Failover Clustering Tools                   RSAT-Clustering                Available",
        "            [ ] Failover Cluster Management Tools       RSAT-Clustering-Mgmt           Available",
        "            [ ] Failover Cluster Module for Windows ... RSAT-Clustering-PowerShell     Available"]
    i = lines.index("Success Restart Needed Exit Code      Feature Result                               ")
    assert lines[i + 1:i + 3] == ["------- -------------- ---------      --------------                               ",
                                  "True    No             Success        {Failover Clustering, Remote Server Admini..."]


def _fc(kind, props):
    return PSObject(props, type_name=f"Microsoft.FailoverClusters.PowerShell.{kind}")


def _enum(name):
    return PSEnum("x.State", name, 0)


def test_cluster_views():
    resources = [_fc("ClusterResource", {"Name": n, "State": _enum("Online"), "OwnerGroup": g, "ResourceType": t})
                 for n, g, t in (("Cluster Disk 1", "Available Storage", "Physical Disk"),
                                 ("Storage Qos Resource", "Cluster Group", "Storage QoS Policy Manager"))]
    assert render_output(resources) == [
        "",
        "Name                 State  OwnerGroup        ResourceType              ",
        "----                 -----  ----------        ------------              ",
        "Cluster Disk 1       Online Available Storage Physical Disk             ",
        "Storage Qos Resource Online Cluster Group     Storage QoS Policy Manager",
        ""]
    csv = _fc("ClusterSharedVolume", {"Name": "Cluster Disk 1", "State": _enum("Online"), "OwnerNode": "VL-CL2"})
    assert render_output([csv])[1:4] == ["Name           State  Node  ", "----           -----  ----  ",
                                         "Cluster Disk 1 Online VL-CL2"]
    assert render_output([_fc("Cluster", {"Name": "Cluster1", "Id": "x"})])[1:4] == ["Name    ", "----    ", "Cluster1"]
    groups = [_fc("ClusterGroup", {"Name": n, "OwnerNode": o, "State": _enum("Online"), "IsCoreGroup": False})
              for n, o in (("Available Storage", "node1"), ("cluster1FS", "node2"))]
    assert render_output(groups)[1:5] == ["Name              OwnerNode State ", "----              --------- ----- ",
                                          "Available Storage node1     Online", "cluster1FS        node2     Online"]
    nodes = [_fc("ClusterNode", {"Name": f"node{i}", "Id": str(i), "State": _enum("Up")}) for i in (1, 2)]
    assert render_output(nodes)[1:5] == ["Name  ID State", "----  -- -----", "node1 1  Up   ", "node2 2  Up   "]


def test_vm_view():
    uptime = PSObject({"Hours": 0}, type_name="System.TimeSpan", methods={"ToString": lambda: "00:05:12"})
    vm = PSObject({"Name": "VM1", "State": PSEnum("x.VMState", "Running", 2), "CPUUsage": 1,
                   "MemoryAssigned": 2147483648, "Uptime": uptime, "Status": "Operating normally",
                   "Version": "9.0"}, type_name="Microsoft.HyperV.PowerShell.VirtualMachine")
    assert render_output([vm])[1:4] == [
        "Name State   CPUUsage(%) MemoryAssigned(M) Uptime   Status             Version",
        "---- -----   ----------- ----------------- ------   ------             -------",
        "VM1  Running 1           2048              00:05:12 Operating normally 9.0    "]


def test_a_table_wider_than_the_console_loses_columns_from_the_right():
    """ColumnWidthManager: the last column shrinks to fit, or is hidden when it would go below 1."""
    from hvsim.powershell.formatting import fit_columns
    assert fit_columns([None, None], 79) == [39, 39]            # pywinrm issue 301: two columns at 80
    assert fit_columns([50, 50, 30], 79) == [50, 28, -1]
    assert fit_columns([6, None, 32, 20, 22, 10, 10], 119) == [6, 13, 32, 20, 22, 10, 10]


def test_psbase_cim_instance_properties(world):
    """A CIM instance's psbase is the .NET CimInstance: CimInstanceProperties indexed by name hold Name,
    Value and CimType (Microsoft.Management.Infrastructure docs: CimInstance.CimInstanceProperties);
    MSFT_Disk.Number is a UInt32 (MSFT_Disk class reference)."""
    assert ps(world, "$d = Get-Disk -Number 0\n$d.psBase.CimInstanceProperties['Number'].Value\n"
                     "[string]$d.psBase.CimInstanceProperties['Number'].CimType\n"
                     "$d.psBase.CimSystemProperties.ClassName")[:3] == ["0", "UInt32", "MSFT_Disk"]
