"""Nested virtualization and a new machine's first configuration (issue 14, item 3: the cmdlets a
LabMachine uses), sent with the real pywinrm to the seed lab's hosts. HV01 runs the VMs; HV02 is a
Hyper-V host that is itself a VM without nested virtualization (`virtualization: {extensions: false}`);
DC01 is a server whose processor exposes no virtualization either. Every test asserts the world
(state.json) as well as what PowerShell printed."""
from __future__ import annotations

import json

import pytest

from hvsim.testing import SEED_LAB, LabProcess, load_lab_file
from hvsim.world import World
from hvsim_fixtures import wait_until
from test_storage_helpers import run

SETUP = r"""
$ErrorActionPreference = 'Stop'
Install-WindowsFeature -Name Hyper-V-PowerShell | Out-Null
New-VMSwitch -Name Lab -SwitchType Internal | Out-Null
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    spec = load_lab_file(SEED_LAB)
    spec["hosts"]["HV02"]["virtualization"] = {"extensions": False}
    spec["hosts"]["DC01"]["virtualization"] = {"extensions": False}
    # a NIC with no DHCP server on its segment: an automatic private (APIPA) address
    spec["hosts"]["DC01"]["nics"].append({"name": "Ethernet 2", "ipv4": "169.254.77.8", "prefix": 16})
    proc = LabProcess.for_tests(tmp_path_factory.mktemp("nested-cmdlets"), lab=spec)
    proc.start()
    try:
        for host in ("HV01", "HV02"):
            res = proc.session(host).run_ps(SETUP)
            assert res.status_code == 0, res.std_err
        yield proc
    finally:
        proc.stop()


def ps(lab, host: str, script: str) -> tuple[int, str, str]:
    res = lab.session(host).run_ps("$ErrorActionPreference = 'Stop'\n" + script)
    return res.status_code, res.std_out.decode(), res.std_err.decode()


def ok(lab, host: str, script: str):
    code, out, err = ps(lab, host, script)
    assert code == 0, err
    return json.loads(out) if out.strip() else None


def caught(lab, host: str, script: str) -> dict:
    """The error record a block throws: its message and FullyQualifiedErrorId."""
    return ok(lab, host, "try { " + script + " ; @{ none = $true } | ConvertTo-Json -Compress } catch { "
              "@{ message = $_.Exception.Message; id = $_.FullyQualifiedErrorId; "
              "category = [string]$_.CategoryInfo.Category } | ConvertTo-Json -Compress }")


def vm_record(lab, host: str, name: str) -> dict:
    return next(v for v in lab.world()["hosts"][host]["hyperv"]["vms"].values() if v["name"] == name)


def nic_record(lab, host: str, name: str) -> dict:
    return next(n for n in lab.world()["hosts"][host]["nics"] if n["name"] == name)


# ----------------------------------------------------------------------------- Hyper-V (item 7)
def test_nested_virtualization_settings_of_a_vm(lab):
    made = ok(lab, "HV01", r"""
        $vm = New-VM -Name Nest1 -Generation 2 -MemoryStartupBytes 4GB -Path C:\Nest -NoVHD -SwitchName Lab
        Add-VMNetworkAdapter -VMName Nest1 -SwitchName Lab -Name Cluster -Passthru |
            Select-Object 'Name', 'SwitchName', 'MacAddress' | ConvertTo-Json -Compress""")
    assert made == {"Name": "Cluster", "SwitchName": "Lab", "MacAddress": "000000000000"}
    vm = vm_record(lab, "HV01", "Nest1")
    assert (vm["generation"], vm["memory_startup"], vm["hard_drives"]) == (2, 4 << 30, [])
    assert [(a["name"], a["switch"]) for a in vm["network_adapters"]] == [("Network Adapter", "Lab"), ("Cluster", "Lab")]

    before = ok(lab, "HV01", "Get-VMProcessor -VMName Nest1 | Select-Object 'Count', 'ExposeVirtualizationExtensions' | "
                             "ConvertTo-Json -Compress")
    assert before == {"Count": 1, "ExposeVirtualizationExtensions": False}
    # the VMName set, then the VM object set (piped), then a piped VMProcessor
    ok(lab, "HV01", "Set-VMProcessor -VMName Nest1 -Count 2 -ExposeVirtualizationExtensions $true")
    ok(lab, "HV01", "Get-VM -Name Nest1 | Set-VMProcessor -Count 4")
    after = ok(lab, "HV01", "Get-VMProcessor -VMName Nest1 | Set-VMProcessor -ExposeVirtualizationExtensions $true "
                            "-Passthru | Select-Object 'Count', 'ExposeVirtualizationExtensions', 'VMName' | "
                            "ConvertTo-Json -Compress")
    assert after == {"Count": 4, "ExposeVirtualizationExtensions": True, "VMName": "Nest1"}
    vm = vm_record(lab, "HV01", "Nest1")
    assert (vm["processor_count"], vm["expose_virtualization_extensions"]) == (4, True)

    # MAC spoofing: every adapter of the VM, then one by name, then a piped adapter
    ok(lab, "HV01", "Set-VMNetworkAdapter -VMName Nest1 -MacAddressSpoofing On")
    assert [a["mac_address_spoofing"] for a in vm_record(lab, "HV01", "Nest1")["network_adapters"]] == [True, True]
    ok(lab, "HV01", "Set-VMNetworkAdapter -VMName Nest1 -Name Cluster -MacAddressSpoofing Off")
    ok(lab, "HV01", "Get-VMNetworkAdapter -VMName Nest1 -Name Cluster | Set-VMNetworkAdapter -StaticMacAddress "
                    "'00-15-5D-0A-0B-0C'")
    shown = ok(lab, "HV01", "@(Get-VMNetworkAdapter -VMName Nest1 | ForEach-Object { [pscustomobject]@{ "
                            "Name = $_.Name; Spoofing = [string]$_.MacAddressSpoofing; Mac = $_.MacAddress; "
                            "Dynamic = $_.DynamicMacAddressEnabled } }) | ConvertTo-Json -Compress")
    assert shown == [{"Name": "Network Adapter", "Spoofing": "On", "Mac": "000000000000", "Dynamic": True},
                     {"Name": "Cluster", "Spoofing": "Off", "Mac": "00155D0A0B0C", "Dynamic": False}]
    err = caught(lab, "HV01", "Set-VMNetworkAdapter -VMName Nest1 -Name Storage -MacAddressSpoofing On")
    assert err["message"] == 'Hyper-V was unable to find a network adapter with name "Storage" in virtual machine "Nest1".'

    ok(lab, "HV01", "Set-VMMemory -VMName Nest1 -DynamicMemoryEnabled $false; Start-VM -Name Nest1")
    assert vm_record(lab, "HV01", "Nest1")["state"] == "Running"
    # the processor changes only while the VM is off; MAC spoofing changes any time, the MAC itself not
    err = caught(lab, "HV01", "Set-VMProcessor -VMName Nest1 -ExposeVirtualizationExtensions $false")
    assert err["id"] == "InvalidState,Microsoft.HyperV.PowerShell.Commands.SetVMProcessor"
    assert err["message"].startswith("Failed to modify device 'Processor'.\r\nThe operation cannot be performed while "
                                     "the object is in its current state.")
    assert vm_record(lab, "HV01", "Nest1")["expose_virtualization_extensions"] is True
    ok(lab, "HV01", "Set-VMNetworkAdapter -VMName Nest1 -Name Cluster -MacAddressSpoofing On")
    err = caught(lab, "HV01", "Set-VMNetworkAdapter -VMName Nest1 -Name Cluster -StaticMacAddress 00155D0A0B0D")
    assert err["id"] == "InvalidState,Microsoft.HyperV.PowerShell.Commands.SetVMNetworkAdapter"
    # (the dynamic adapter got its MAC address from Hyper-V's pool at the first start)
    adapters = vm_record(lab, "HV01", "Nest1")["network_adapters"]
    assert [(a["mac_address_spoofing"], a["mac"] if not a.get("dynamic_mac", True) else "dynamic") for a in adapters] \
        == [(True, "dynamic"), (True, "00155D0A0B0C")]
    assert adapters[0]["mac"].startswith("00155D") and adapters[0]["mac"] != "00155D000000"

    # a generation 2 VM takes a new adapter while it runs; a switch that does not exist is Hyper-V's error
    ok(lab, "HV01", "Add-VMNetworkAdapter -VM (Get-VM -Name Nest1) -Name Spare")
    err = caught(lab, "HV01", "Add-VMNetworkAdapter -VMName Nest1 -SwitchName Missing -Name Other")
    assert err == {"message": 'Hyper-V was unable to find a virtual switch with name "Missing".',
                   "id": "InvalidParameter,Microsoft.HyperV.PowerShell.Commands.AddVMNetworkAdapter",
                   "category": "InvalidArgument"}
    assert [a["name"] for a in vm_record(lab, "HV01", "Nest1")["network_adapters"]] == \
        ["Network Adapter", "Cluster", "Spare"]
    # the usual form: every adapter of the VM piped in
    ok(lab, "HV01", "Get-VMNetworkAdapter -VMName Nest1 | Set-VMNetworkAdapter -MacAddressSpoofing Off")
    assert [a["mac_address_spoofing"] for a in vm_record(lab, "HV01", "Nest1")["network_adapters"]] == [False] * 3
    ok(lab, "HV01", r"Stop-VM -Name Nest1 -TurnOff; Remove-VM -Name Nest1 -Force")
    assert not lab.world()["hosts"]["HV01"]["hyperv"]["vms"]


def test_new_vm_with_an_existing_vhd_and_the_generation_1_rules(lab):
    ok(lab, "HV01", r"""
        New-VM -Name Disk1 -Path C:\Nest -Generation 2 -NewVHDPath C:\Nest\Disk1\Disk1.vhdx -NewVHDSizeBytes 40GB | Out-Null
        Remove-VM -Name Disk1 -Force
        New-VM -Name Disk2 -Path C:\Nest -Generation 2 -VHDPath C:\Nest\Disk1\Disk1.vhdx -SwitchName Lab | Out-Null
        New-VM -Name Old1 -Path C:\Nest -Generation 1 -NoVHD | Out-Null
        Start-VM -Name Old1""")
    disk2 = vm_record(lab, "HV01", "Disk2")
    assert [(d["path"], d["controller_type"]) for d in disk2["hard_drives"]] == [("C:\\Nest\\Disk1\\Disk1.vhdx", "SCSI")]
    err = caught(lab, "HV01", "Add-VMNetworkAdapter -VMName Old1 -SwitchName Lab")
    assert err["id"] == "InvalidState,Microsoft.HyperV.PowerShell.Commands.AddVMNetworkAdapter"
    assert len(vm_record(lab, "HV01", "Old1")["network_adapters"]) == 1
    ok(lab, "HV01", "Stop-VM -Name Old1 -TurnOff; Add-VMNetworkAdapter -VMName Old1 -SwitchName Lab; "
                    "Remove-VM -Name Old1 -Force; Remove-VM -Name Disk2 -Force")


def test_hyper_v_needs_the_processors_virtualization_extensions(lab):
    # a server whose (virtual) processor exposes no virtualization: the role does not install
    err = caught(lab, "DC01", "Install-WindowsFeature -Name Hyper-V -IncludeManagementTools")
    assert err["message"] == ("A prerequisite check for the Hyper-V feature failed.\r\n1. Hyper-V cannot be installed: "
                              "The processor does not have required virtualization capabilities.")
    assert err["id"] == "Alteration_PrerequisiteCheck_Failed,Microsoft.Windows.ServerManager.Commands.AddWindowsFeatureCommand"
    dc = lab.world()["hosts"]["DC01"]
    assert dc["features"].get("Hyper-V", {}).get("state", "Available") == "Available"
    assert not dc["pending"].get("restart_required")
    # the management tools alone install anywhere
    ok(lab, "DC01", "Install-WindowsFeature -Name Hyper-V-PowerShell | Out-Null")
    assert lab.world()["hosts"]["DC01"]["features"]["Hyper-V-PowerShell"]["state"] == "Installed"

    # an image that ships the role (HV02): VMs are created, but the hypervisor is not running to start them
    ok(lab, "HV02", r"New-VM -Name Inner -Path C:\Nest -Generation 2 -NoVHD | Out-Null")
    err = caught(lab, "HV02", "Start-VM -Name Inner")
    assert err["message"].startswith("'Inner' failed to start.\r\nVirtual machine 'Inner' could not be started because "
                                     "the hypervisor is not running.")
    assert err["id"] == "Unspecified,Microsoft.HyperV.PowerShell.Commands.StartVM"
    assert vm_record(lab, "HV02", "Inner")["state"] == "Off"
    ok(lab, "HV02", "Remove-VM -Name Inner -Force")


# ----------------------------------------------------------------------------- first configuration (item 8)
def test_adapter_rename_and_static_addresses(lab):
    adapters = ok(lab, "HV02", "@(Get-NetAdapter -Physical | ForEach-Object { [pscustomobject]@{ Name = $_.Name; "
                               "Index = $_.InterfaceIndex; Mac = $_.MacAddress } }) | ConvertTo-Json -Compress")
    assert [(a["Name"], a["Index"]) for a in adapters] == [("Ethernet", 4), ("Ethernet 2", 6)]
    assert all(a["Mac"].startswith("00-15-5D-") and len(a["Mac"]) == 17 for a in adapters)

    renamed = ok(lab, "HV02", "Rename-NetAdapter -Name 'Ethernet 2' -NewName Storage -PassThru | "
                              "Select-Object 'Name', 'ifIndex' | ConvertTo-Json -Compress")
    assert renamed == {"Name": "Storage", "ifIndex": 6}
    assert nic_record(lab, "HV02", "Storage")["if_index"] == 6
    err = caught(lab, "HV02", "Rename-NetAdapter -Name Storage -NewName Ethernet")
    assert err["id"] == "Windows System Error 183,Rename-NetAdapter"
    err = caught(lab, "HV02", "Rename-NetAdapter -Name Nope -NewName Other")
    assert err["id"] == "CmdletizationQuery_NotFound_Name,Rename-NetAdapter"
    assert err["message"].startswith("No MSFT_NetAdapter objects found with property 'Name' equal to 'Nope'.")

    # replace the address: remove the old one, add a static one with a gateway (both stores come back)
    ok(lab, "HV02", "Remove-NetIPAddress -IPAddress 192.168.20.12 -Confirm:$false")
    assert nic_record(lab, "HV02", "Storage")["ipv4"] is None
    made = ok(lab, "HV02", "@(New-NetIPAddress -InterfaceIndex 6 -IPAddress 10.20.0.12 -PrefixLength 24 "
                           "-DefaultGateway 10.20.0.1 | ForEach-Object { [pscustomobject]@{ IP = $_.IPAddress; "
                           "Store = $_.PolicyStore; Origin = [string]$_.PrefixOrigin } }) | ConvertTo-Json -Compress")
    assert made == [{"IP": "10.20.0.12", "Store": "ActiveStore", "Origin": "Manual"},
                    {"IP": "10.20.0.12", "Store": "PersistentStore", "Origin": "Manual"}]
    nic = nic_record(lab, "HV02", "Storage")
    assert (nic["ipv4"], nic["prefix"], nic["gateway"]) == ("10.20.0.12", 24, "10.20.0.1")

    # the same address again, and a second default gateway, fail as Windows does
    err = caught(lab, "HV02", "New-NetIPAddress -InterfaceAlias Storage -IPAddress 10.20.0.12 -PrefixLength 24")
    assert (err["message"], err["id"]) == ("Instance MSFT_NetIPAddress already exists",
                                           "Windows System Error 87,New-NetIPAddress")
    err = caught(lab, "HV02", "New-NetIPAddress -InterfaceAlias Storage -IPAddress 10.20.0.13 -PrefixLength 24 "
                              "-DefaultGateway 10.20.0.254")
    assert err["message"] == "Instance DefaultGateway already exists"
    err = caught(lab, "HV02", "New-NetIPAddress -InterfaceAlias Missing -IPAddress 10.20.0.13 -PrefixLength 24")
    assert (err["message"], err["id"]) == ("Element not found.", "Windows System Error 1168,New-NetIPAddress")

    # a second address on the interface is kept beside the first
    ok(lab, "HV02", "New-NetIPAddress -InterfaceAlias Storage -IPAddress 10.20.0.13 -PrefixLength 25 | Out-Null")
    listed = ok(lab, "HV02", "@(Get-NetIPAddress -InterfaceAlias Storage | ForEach-Object { \"$($_.IPAddress)/"
                             "$($_.PrefixLength)\" }) | ConvertTo-Json -Compress")
    assert listed == ["10.20.0.12/24", "10.20.0.13/25"]
    assert nic_record(lab, "HV02", "Storage")["ipv4_more"] == [{"ipv4": "10.20.0.13", "prefix": 25}]
    ok(lab, "HV02", "Get-NetIPAddress -IPAddress 10.20.0.13 | Remove-NetIPAddress -Confirm:$false")
    assert nic_record(lab, "HV02", "Storage")["ipv4_more"] == []


def test_a_static_address_replaces_the_automatic_one(lab):
    shown = ok(lab, "DC01", "Get-NetIPAddress -InterfaceAlias 'Ethernet 2' | Select-Object 'IPAddress', "
                            "@{ n = 'Prefix'; e = { [string]$_.PrefixOrigin } }, @{ n = 'Suffix'; e = { "
                            "[string]$_.SuffixOrigin } } | ConvertTo-Json -Compress")
    assert shown == {"IPAddress": "169.254.77.8", "Prefix": "WellKnown", "Suffix": "Link"}
    ok(lab, "DC01", "New-NetIPAddress -InterfaceAlias 'Ethernet 2' -IPAddress 127.31.7.10 -PrefixLength 24 | Out-Null")
    nic = nic_record(lab, "DC01", "Ethernet 2")
    assert (nic["ipv4"], nic["prefix"], nic.get("ipv4_more", [])) == ("127.31.7.10", 24, [])
    shown = ok(lab, "DC01", "Get-NetIPAddress -InterfaceAlias 'Ethernet 2' | Select-Object 'IPAddress', "
                            "@{ n = 'Prefix'; e = { [string]$_.PrefixOrigin } } | ConvertTo-Json -Compress")
    assert shown == {"IPAddress": "127.31.7.10", "Prefix": "Manual"}


def test_dns_servers_and_network_profile(lab):
    ok(lab, "DC01", "Set-DnsClientServerAddress -InterfaceIndex 4 -ServerAddresses @('127.0.0.1', '192.168.10.10')")
    assert nic_record(lab, "DC01", "Ethernet")["dns_servers"] == ["127.0.0.1", "192.168.10.10"]
    shown = ok(lab, "DC01", "@(Get-DnsClientServerAddress -InterfaceAlias Ethernet | ForEach-Object { "
                            "[pscustomobject]@{ Family = $_.AddressFamily; Servers = @($_.ServerAddresses) } }) | "
                            "ConvertTo-Json -Compress")
    assert shown == [{"Family": 2, "Servers": ["127.0.0.1", "192.168.10.10"]}, {"Family": 23, "Servers": []}]
    ok(lab, "DC01", "Set-DnsClientServerAddress -InterfaceAlias Ethernet -ServerAddresses '192.168.10.10'")
    assert nic_record(lab, "DC01", "Ethernet")["dns_servers"] == ["192.168.10.10"]
    err = caught(lab, "DC01", "Set-DnsClientServerAddress -InterfaceAlias Ethernet -ServerAddresses 'dc01'")
    assert err["id"] == "Windows System Error 87,Set-DnsClientServerAddress"
    ok(lab, "DC01", "Set-DnsClientServerAddress -InterfaceAlias Ethernet -ResetServerAddresses")
    assert nic_record(lab, "DC01", "Ethernet")["dns_servers"] == []

    # a workgroup server's network is Private until it is set; DomainAuthenticated is never set by hand
    ok(lab, "DC01", "Set-NetConnectionProfile -InterfaceAlias Ethernet -NetworkCategory Public")
    assert nic_record(lab, "DC01", "Ethernet")["network_category"] == "Public"
    shown = ok(lab, "DC01", "Get-NetConnectionProfile -InterfaceAlias Ethernet | Select-Object 'InterfaceIndex', "
                            "@{ n = 'Category'; e = { [string]$_.NetworkCategory } } | ConvertTo-Json -Compress")
    assert shown == {"InterfaceIndex": 4, "Category": "Public"}
    ok(lab, "DC01", "Get-NetConnectionProfile -InterfaceAlias Ethernet | Set-NetConnectionProfile -NetworkCategory Private")
    assert nic_record(lab, "DC01", "Ethernet")["network_category"] == "Private"
    err = caught(lab, "DC01", "Set-NetConnectionProfile -InterfaceIndex 4 -NetworkCategory DomainAuthenticated")
    assert err["message"].startswith("Unable to set NetworkCategory to 'DomainAuthenticated'.")
    err = caught(lab, "DC01", "Set-NetConnectionProfile -InterfaceIndex 99 -NetworkCategory Private")
    assert err["id"] == "CmdletizationQuery_NotFound_InterfaceIndex,Set-NetConnectionProfile"


def test_enable_ps_remoting_changes_only_what_differs(lab):
    ok(lab, "DC01", "Set-Service -Name WinRM -StartupType Manual")
    first = ok(lab, "DC01", "@(Enable-PSRemoting -Force -SkipNetworkProfileCheck) | ConvertTo-Json -Compress")
    assert first == ["WinRM has been updated to receive requests.\r\nWinRM service type changed successfully.",
                     "WinRM is already set up for remote management on this computer."]
    dc = lab.world()["hosts"]["DC01"]
    assert dc["services"]["WinRM"] == {**dc["services"]["WinRM"], "status": "Running", "start_type": "Automatic"}
    second = ok(lab, "DC01", "@(Enable-PSRemoting -Force) | ConvertTo-Json -Compress")
    assert second == ["WinRM is already set up to receive requests on this computer.",
                      "WinRM is already set up for remote management on this computer."]
    err = caught(lab, "DC01", "Enable-PSRemoting")
    assert err["message"] == "Windows PowerShell is in NonInteractive mode. Read and Prompt functionality is not available."
    calls = [a for a in lab.audit() if a.get("kind") == "cmdlet" and a.get("cmdlet") == "Enable-PSRemoting"
             and a.get("host") == "DC01"]
    assert len(calls) == 3


def test_time_zone(lab):
    assert ok(lab, "HV02", "(Get-TimeZone).Id | ConvertTo-Json") == "UTC"
    shown = ok(lab, "HV02", "Set-TimeZone -Id 'W. Europe Standard Time' -PassThru | Select-Object 'Id', "
                            "'SupportsDaylightSavingTime' | ConvertTo-Json -Compress")
    assert shown == {"Id": "W. Europe Standard Time", "SupportsDaylightSavingTime": True}
    assert lab.world()["hosts"]["HV02"]["time_zone"] == "W. Europe Standard Time"
    assert ok(lab, "HV02", "(Get-TimeZone).Id | ConvertTo-Json") == "W. Europe Standard Time"
    err = caught(lab, "HV02", "Set-TimeZone -Id 'Mars Standard Time'")
    assert err == {"message": "The time zone ID 'Mars Standard Time' was not found on the local computer.",
                   "id": "TimeZoneNotFound,Microsoft.PowerShell.Commands.SetTimeZoneCommand",
                   "category": "InvalidArgument"}
    assert lab.world()["hosts"]["HV02"]["time_zone"] == "W. Europe Standard Time"
    ok(lab, "HV02", "Get-TimeZone -Id UTC | Set-TimeZone")
    assert lab.world()["hosts"]["HV02"]["time_zone"] == "UTC"
    assert ok(lab, "HV02", "@(Get-TimeZone -ListAvailable).Count") >= 5


def test_content_and_copies(lab):
    ok(lab, "HV01", r"""
        New-Item -ItemType Directory -Path C:\Cfg\Sub | Out-Null
        Set-Content -Path C:\Cfg\unattend.txt -Value @('line one', 'line two')
        Set-Content -Path C:\Cfg\Sub\wide.txt -Value 'abc' -Encoding Unicode
        Set-Content -Path C:\Cfg\raw.txt -Value 'x' -NoNewline""")
    files = lab.world()["hosts"]["HV01"]["files"]
    assert (files["c:\\cfg\\unattend.txt"]["content"], files["c:\\cfg\\unattend.txt"]["size"]) == \
        ("line one\r\nline two\r\n", 20)
    assert files["c:\\cfg\\sub\\wide.txt"]["size"] == 2 + 2 * len("abc\r\n")
    assert files["c:\\cfg\\raw.txt"]["size"] == 1
    assert ok(lab, "HV01", r"@(Get-Content -Path C:\Cfg\unattend.txt) | ConvertTo-Json -Compress") == \
        ["line one", "line two"]
    assert ok(lab, "HV01", r"Get-Content -LiteralPath C:\Cfg\unattend.txt -Raw | ConvertTo-Json") == \
        "line one\r\nline two\r\n"
    assert ok(lab, "HV01", r"ConvertTo-Json -Compress -InputObject @(Get-Content C:\Cfg\unattend.txt -TotalCount 1)") == \
        ["line one"]

    err = caught(lab, "HV01", r"Get-Content -Path C:\Cfg\missing.txt")
    assert (err["message"], err["id"]) == ("Cannot find path 'C:\\Cfg\\missing.txt' because it does not exist.",
                                           "PathNotFound,Microsoft.PowerShell.Commands.GetContentCommand")
    err = caught(lab, "HV01", r"Set-Content -Path C:\Nowhere\x.txt -Value 'x'")
    assert err["message"] == "Could not find a part of the path 'C:\\Nowhere\\x.txt'."
    assert "c:\\nowhere\\x.txt" not in lab.world()["hosts"]["HV01"]["files"]

    # a file into a folder, a tree with -Recurse, a VHDX with its disk metadata
    ok(lab, "HV01", r"""
        Copy-Item -Path C:\Cfg\unattend.txt -Destination C:\Windows
        Copy-Item -Path C:\Cfg -Destination C:\Cfg2 -Recurse
        New-VM -Name Src -Path C:\Nest -Generation 2 -NewVHDPath C:\Nest\Src.vhdx -NewVHDSizeBytes 30GB | Out-Null
        Remove-VM -Name Src -Force
        Copy-Item -Path C:\Nest\Src.vhdx -Destination C:\Nest\Copy.vhdx""")
    files = lab.world()["hosts"]["HV01"]["files"]
    assert files["c:\\windows\\unattend.txt"]["content"] == "line one\r\nline two\r\n"
    assert {k for k in files if k.startswith("c:\\cfg2")} == {
        "c:\\cfg2", "c:\\cfg2\\unattend.txt", "c:\\cfg2\\raw.txt", "c:\\cfg2\\sub", "c:\\cfg2\\sub\\wide.txt"}
    assert files["c:\\nest\\copy.vhdx"]["vhd"] == files["c:\\nest\\src.vhdx"]["vhd"]
    vhd = ok(lab, "HV01", r"Get-VHD -Path C:\Nest\Copy.vhdx | Select-Object 'Size' | ConvertTo-Json -Compress")
    assert vhd == {"Size": 30 << 30}
    err = caught(lab, "HV01", r"Get-Content -Path C:\Nest\Copy.vhdx")
    assert err["id"] == "NotImplemented,Microsoft.PowerShell.Commands.GetContentCommand"
    err = caught(lab, "HV01", r"Copy-Item -Path C:\Cfg\raw.txt -Destination C:\Nowhere\raw.txt")
    assert err["message"] == "Could not find a part of the path 'C:\\Nowhere\\raw.txt'."

    # a running VM holds its disk open: no copy, no delete; once it is off both work
    ok(lab, "HV01", r"New-VM -Name Holder -Path C:\Nest -Generation 2 -VHDPath C:\Nest\Copy.vhdx | Out-Null; "
                    "Start-VM -Name Holder")
    err = caught(lab, "HV01", r"Copy-Item -Path C:\Nest\Copy.vhdx -Destination C:\Nest\Copy2.vhdx")
    assert err["message"] == ("The process cannot access the file 'C:\\Nest\\Copy.vhdx' because it is being used "
                              "by another process.")
    err = caught(lab, "HV01", r"Remove-Item -LiteralPath C:\Nest\Copy.vhdx -Force")
    assert err["id"] == "RemoveFileSystemItemIOError,Microsoft.PowerShell.Commands.RemoveItemCommand"
    files = lab.world()["hosts"]["HV01"]["files"]
    assert "c:\\nest\\copy.vhdx" in files and "c:\\nest\\copy2.vhdx" not in files
    ok(lab, "HV01", r"Stop-VM -Name Holder -TurnOff; Remove-VM -Name Holder -Force; "
                    r"Remove-Item -LiteralPath C:\Nest\Copy.vhdx")
    assert "c:\\nest\\copy.vhdx" not in lab.world()["hosts"]["HV01"]["files"]


def test_a_machine_finds_the_domain_through_its_dns_servers(hvsim_lab):
    """A new machine joins the domain only once its DNS client asks the DC (the existing-domain lab)."""
    join = ("$cred = New-Object System.Management.Automation.PSCredential('HYPER\\Administrator', "
            "(ConvertTo-SecureString '%s' -AsPlainText -Force)); Add-Computer -DomainName hyper.local -Credential $cred"
            % hvsim_lab.credentials("DC01", domain=True)[1])
    ok(hvsim_lab, "HV01", "Set-DnsClientServerAddress -InterfaceAlias Ethernet -ServerAddresses '192.168.10.99'")
    err = caught(hvsim_lab, "HV01", "Resolve-DnsName -Name hyper.local")
    assert err["message"] == "hyper.local : DNS name does not exist"
    err = caught(hvsim_lab, "HV01", join)
    assert err["message"] == ("Computer 'HV01' failed to join domain 'hyper.local' from its current workgroup "
                              "'WORKGROUP' with following error message: The specified domain either does not exist "
                              "or could not be contacted.")
    assert "domain" not in (hvsim_lab.world()["hosts"]["HV01"]["pending"] or {})

    ok(hvsim_lab, "HV01", "Set-DnsClientServerAddress -InterfaceIndex 4 -ServerAddresses '192.168.10.10'")
    assert ok(hvsim_lab, "HV01", "(Resolve-DnsName -Name hyper.local).IPAddress | ConvertTo-Json") == "192.168.10.10"
    # a Public network (set before the join) becomes the domain's network once the machine is a member
    ok(hvsim_lab, "HV01", "Set-NetConnectionProfile -InterfaceAlias Ethernet -NetworkCategory Public")
    ok(hvsim_lab, "HV01", join + " -Restart")
    assert wait_until(lambda: hvsim_lab.world()["hosts"]["HV01"]["domain"] == "hyper.local", timeout=30)
    hvsim_lab.wait_reachable("HV01")
    shown = ok(hvsim_lab, "HV01", "[string](Get-NetConnectionProfile -InterfaceAlias Ethernet).NetworkCategory | "
                                  "ConvertTo-Json")
    assert shown == "DomainAuthenticated"


def test_enable_ps_remoting_restores_the_listener_and_the_firewall_rule(tmp_path):
    """What cannot be undone over the WinRM session itself (its own listener, its firewall rule) is set up
    in the world first; the cmdlet is then called through the registry as a remote session would."""
    world = World(tmp_path / "state", lab=load_lab_file(SEED_LAB), time_factor=0.0)
    with world.transaction() as data:
        dc = data["hosts"]["DC01"]
        dc["winrm"] = {"http_listener": False}
        dc["firewall"]["disabled"].append("WINRM-HTTP-In-TCP")
        dc["services"]["WinRM"]["status"] = "Stopped"
    out = run(world, "DC01", "Enable-PSRemoting", Force=True)
    assert out == ["WinRM has been updated to receive requests.\r\nWinRM service started.",
                   "WinRM has been updated for remote management.\r\nCreated a WinRM listener on HTTP://* to accept "
                   "WS-Man requests to any IP on this machine.\r\nWinRM firewall exception enabled."]
    dc = world.host("DC01")
    assert dc["winrm"] == {"http_listener": True} and dc["firewall"]["disabled"] == []
    assert dc["services"]["WinRM"]["status"] == "Running"
    assert run(world, "DC01", "Enable-PSRemoting", Force=True) == [
        "WinRM is already set up to receive requests on this computer.",
        "WinRM is already set up for remote management on this computer."]
    world.close()
