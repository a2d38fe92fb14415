"""Windows' default table views when output reaches the host unformatted (hvsim/powershell/formatting.py).

Each expectation cites where its headers, widths and alignment come from:
- Get-Service: PowerShell-Docs reference/5.1/Microsoft.PowerShell.Core/About/about_Arrays.md (Status 8,
  Name 18, DisplayName 38; "AudioEndpointBu..." shows the cut to width-3 and "...").
- Get-Disk: PowerShell-Docs reference/5.1/Microsoft.PowerShell.Core/Get-Module.md example output (Number 6,
  Friendly Name 26, OperationalStatus 26, Total Size 10 right-aligned "40 GB", Partition Style).
- Get-ClusterGroup: windows-powershell-docs winserver2022-ps/FailoverClusters/Get-ClusterGroup.md example 1
  (Name 26, OwnerNode 45, State 6 right-aligned); its example 2 gives Get-ClusterResource (four columns of 19,
  "Cluster IP Addre...").
- Get-ClusterNode: winserver2019-ps/FailoverClusters/Get-ClusterNode.md example 1 (Name, ID, State).
- Get-VM: winserver2022-ps/Hyper-V/Compare-VM.md (Import-VM's output: the VirtualMachine view, autosized,
  CPUUsage(%) / MemoryAssigned(M) headers); the Server 2016+ module's columns are Name, State, CPUUsage(%),
  MemoryAssigned(M), Uptime, Status, Version.
- Get-WindowsFeature / Install-WindowsFeature: ServerManager's format file (Display Name 55 with the
  "[X] " tree, Name 26, Install State 13 right-aligned; Success 7, Restart Needed 14, Exit Code 14,
  Feature Result as {display names}).
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
        "Status   Name               DisplayName",
        "------   ----               -----------",
        "Stopped  MSiSCSI            Microsoft iSCSI Initiator Service",
        "Running  WinRM              Windows Remote Management (WS-Manag...",
        ""]


def test_get_disk_view_and_number_type(world):
    lines = ps(world, "Get-Disk; (Get-Disk -Number 0).Number.GetType().FullName; (Get-Disk)[0].Number -is [uint32]")
    assert lines[1:4] == [
        "Number Friendly Name              OperationalStatus          Total Size Partition Style",
        "------ -------------              -----------------          ---------- ---------------",
        "0      Msft Virtual Disk          Online                         127 GB GPT"]
    assert lines[-3:-1] == ["System.UInt32", "True"]


def test_windows_feature_views(world):
    lines = ps(world, "Get-WindowsFeature Failover-Clustering, RSAT-Clustering*; Install-WindowsFeature Failover-Clustering")
    assert lines[1:7] == [
        "Display Name                                            Name                       Install State",
        "------------                                            ----                       -------------",
        "[ ] Failover Clustering                                 Failover-Clustering            Available",
        "        [ ] Failover Clustering Tools                   RSAT-Clustering                Available",
        "            [ ] Failover Cluster Management Tools       RSAT-Clustering-Mgmt           Available",
        "            [ ] Failover Cluster Module for Windows ... RSAT-Clustering-PowerShell     Available"]
    i = lines.index("Success Restart Needed Exit Code      Feature Result")
    assert lines[i + 1:i + 3] == ["------- -------------- ---------      --------------",
                                  "True    No             Success        {Failover Clustering}"]


def _fc(kind, props):
    return PSObject(props, type_name=f"Microsoft.FailoverClusters.PowerShell.{kind}")


def test_cluster_views():
    groups = [_fc("ClusterGroup", {"Name": n, "OwnerNode": o, "State": PSEnum("x.ClusterGroupState", "Online", 0),
                                   "IsCoreGroup": False}) for n, o in (("Available Storage", "node1"), ("cluster1FS", "node2"))]
    assert render_output(groups) == [
        "",
        "Name                       OwnerNode                                      State",
        "----                       ---------                                      -----",
        "Available Storage          node1                                         Online",
        "cluster1FS                 node2                                         Online",
        ""]
    nodes = [_fc("ClusterNode", {"Name": f"node{i}", "Id": str(i), "State": PSEnum("x.ClusterNodeState", "Up", 0)})
             for i in (1, 2)]
    assert render_output(nodes)[1:5] == ["Name           ID    State", "----           --    -----",
                                         "node1          1     Up", "node2          2     Up"]
    res = _fc("ClusterResource", {"Name": "Cluster IP Address 2001", "State": "Online",
                                  "OwnerGroup": "Cluster Group", "ResourceType": "IPv6 Address"})
    assert render_output([res])[1:4] == [
        "Name                State               Group               ResourceType",
        "----                -----               -----               ------------",
        "Cluster IP Addre... Online              Cluster Group       IPv6 Address"]


def test_vm_view():
    uptime = PSObject({"Hours": 0}, type_name="System.TimeSpan", methods={"ToString": lambda: "00:05:12"})
    vm = PSObject({"Name": "VM1", "State": PSEnum("x.VMState", "Running", 2), "CPUUsage": 1,
                   "MemoryAssigned": 2147483648, "Uptime": uptime, "Status": "Operating normally",
                   "Version": "9.0"}, type_name="Microsoft.HyperV.PowerShell.VirtualMachine")
    assert render_output([vm])[1:4] == [
        "Name State   CPUUsage(%) MemoryAssigned(M) Uptime   Status             Version",
        "---- -----   ----------- ----------------- ------   ------             -------",
        "VM1  Running 1           2048              00:05:12 Operating normally 9.0"]


def test_psbase_cim_instance_properties(world):
    """A CIM instance's psbase is the .NET CimInstance: CimInstanceProperties indexed by name hold Name,
    Value and CimType (Microsoft.Management.Infrastructure docs: CimInstance.CimInstanceProperties);
    MSFT_Disk.Number is a UInt32 (MSFT_Disk class reference)."""
    assert ps(world, "$d = Get-Disk -Number 0\n$d.psBase.CimInstanceProperties['Number'].Value\n"
                     "[string]$d.psBase.CimInstanceProperties['Number'].CimType\n"
                     "$d.psBase.CimSystemProperties.ClassName")[:3] == ["0", "UInt32", "MSFT_Disk"]
