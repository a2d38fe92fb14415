"""Management cmdlets at the registry level: their effects on the world and their Windows errors."""
from __future__ import annotations

import pytest

from hvsim.cmdlets.registry import Arg, CmdletContext, CmdletError, Session, invoke, lookup
from hvsim.powershell.values import PSCredential, ScriptBlock
from hvsim.world import World, parse_iso
from hvsim_fixtures import wait_until

LAB = {
    "time_factor": 0.001,
    "restart_delay": 0.01,
    "domain": {"fqdn": "hyper.local", "netbios": "HYPER", "controller": "DC01",
               "users": {"Administrator": {"password": "Dom-Pass1"}, "clusteradmin": {"password": "Clu-Pass1"}}},
    "hosts": {
        "DC01": {"domain_member": True, "features": ["AD-Domain-Services", "DNS"],
                 "local_users": {"Administrator": {"password": "Dc-Local1"}},
                 "nics": [{"name": "Ethernet", "ipv4": "192.168.10.10"}]},
        "HV01": {"boot_seconds": 20, "local_users": {"Administrator": {"password": "Hv1-Local"}},
                 "nics": [{"name": "Ethernet", "ipv4": "192.168.10.11"},
                          {"name": "Ethernet 2", "ipv4": "192.168.20.11", "prefix": 16}]},
        "HV02": {"boot_seconds": 20, "local_users": {"Administrator": {"password": "Hv2-Local"}},
                 "nics": [{"name": "Ethernet", "ipv4": "192.168.10.12"}]},
    },
}
DOMAIN_ADMIN = ("HYPER\\Administrator", "Dom-Pass1")


class Runner:
    """Stands in for the interpreter: records the session each script block runs in."""

    def __init__(self):
        self.calls = []

    def invoke_scriptblock(self, block, args, session):
        self.calls.append((block, list(args), session))
        return [f"ran on {session.host}"]


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path / "state", lab=LAB)
    yield w
    w.close()


def ctx_for(world, host="HV01", user=None, can_delegate=False):
    return CmdletContext(world, Session(host, user or f"{host}\\Administrator", "ntlm", can_delegate), runner=Runner())


def run(ctx, name, *args, pipeline=None):
    info = lookup(name)
    assert info is not None, f"{name} is not emulated"
    return invoke(info, ctx, list(args), pipeline)


def fails(ctx, name, *args) -> CmdletError:
    with pytest.raises(CmdletError) as info:
        run(ctx, name, *args)
    return info.value



def cred(user, password):
    return PSCredential(user, password)


def boot_id(world, host):
    return world.host(host)["boot_id"]


def wait_rebooted(world, host, boot):
    """Wait for a boot after `boot`, the boot id read BEFORE the command that schedules the restart:
    the restart runs on a timer thread restart_delay (10 ms) later, so reading it afterwards can miss it."""
    assert wait_until(lambda: world.host(host)["boot_id"] > boot and world.reachable(host))


# ----------------------------------------------------------------------------- features
def test_get_windows_feature_with_wildcards(world):
    ctx = ctx_for(world)
    out = run(ctx, "Get-WindowsFeature", Arg(None, "Hyper-V*"))
    assert [f.get_prop("Name") for f in out] == ["Hyper-V", "Hyper-V-Tools", "Hyper-V-PowerShell"]
    hv = out[0]
    assert hv.get_prop("Installed") is False and str(hv.get_prop("InstallState")) == "Available"
    assert hv.get_prop("FeatureType") == "Role" and hv.type_name == "Microsoft.Windows.ServerManager.Commands.Feature"
    assert run(ctx, "Get-WindowsFeature", Arg("Name", "No-Such-Feature")) == []
    dc = run(ctx_for(world, "DC01"), "Get-WindowsFeature", Arg(None, "AD-Domain-Services"))[0]
    assert dc.get_prop("Installed") is True and dc.get_prop("InstallState") == "Installed"


def test_install_hyperv_needs_a_restart(world):
    ctx = ctx_for(world)
    result = run(ctx, "Install-WindowsFeature", Arg("Name", "Hyper-V"), Arg("IncludeManagementTools", True, switch=True))[0]
    assert result.get_prop("Success") is True
    assert result.get_prop("RestartNeeded") == "Yes"
    assert str(result.get_prop("ExitCode")) == "SuccessRestartRequired"
    names = [r.get_prop("Name") for r in result.get_prop("FeatureResult")]
    assert "Hyper-V" in names and "Hyper-V-PowerShell" in names
    assert world.feature_state("HV01", "Hyper-V") == "InstallPending"
    assert world.feature_installed("HV01", "Hyper-V-PowerShell")
    assert "vmms" not in world.host("HV01")["services"]
    assert ctx.warnings == ["You must restart this server to finish the installation process."]
    again = run(ctx, "Install-WindowsFeature", Arg("Name", "Hyper-V"))[0]
    assert str(again.get_prop("ExitCode")) == "NoChangeNeeded" and again.get_prop("RestartNeeded") == "Yes"
    world.restart("HV01", "test")
    assert world.feature_state("HV01", "Hyper-V") == "Installed"
    assert world.service_running("HV01", "vmms")


def test_install_failover_clustering_without_restart_then_no_change(world):
    ctx = ctx_for(world)
    first = run(ctx, "Install-WindowsFeature", Arg(None, ["Failover-Clustering"]), Arg("IncludeManagementTools", True, switch=True))[0]
    assert first.get_prop("RestartNeeded") == "No" and str(first.get_prop("ExitCode")) == "Success"
    assert world.feature_installed("HV01", "Failover-Clustering")
    assert world.feature_installed("HV01", "RSAT-Clustering-PowerShell")
    assert "ClusSvc" in world.host("HV01")["services"]
    second = run(ctx, "Install-WindowsFeature", Arg(None, "failover-clustering"))[0]
    assert str(second.get_prop("ExitCode")) == "NoChangeNeeded" and second.get_prop("FeatureResult") == []


def test_install_unknown_feature_fails(world):
    err = fails(ctx_for(world), "Install-WindowsFeature", Arg("Name", "Hyper-Vee"))
    assert err.message == ("ArgumentNotValid: The role, role service, or feature name is not valid: 'Hyper-Vee'. "
                           "The name was not found.")
    assert err.error_id == "NameDoesNotExist,Microsoft.Windows.ServerManager.Commands.AddWindowsFeatureCommand"


def test_install_with_restart_switch_restarts_the_host(world):
    ctx = ctx_for(world)
    boot = world.host("HV01")["boot_id"]
    run(ctx, "Install-WindowsFeature", Arg("Name", "Hyper-V"), Arg("Restart", True, switch=True))
    assert wait_until(lambda: world.host("HV01")["boot_id"] == boot + 1)
    assert world.feature_installed("HV01", "Hyper-V")


def test_uninstall_feature(world):
    ctx = ctx_for(world)
    run(ctx, "Install-WindowsFeature", Arg("Name", "Failover-Clustering"))
    out = run(ctx, "Uninstall-WindowsFeature", Arg("Name", "Failover-Clustering"))[0]
    assert out.get_prop("RestartNeeded") == "No"
    assert world.feature_state("HV01", "Failover-Clustering") == "Available"
    assert "ClusSvc" not in world.host("HV01")["services"]


# ----------------------------------------------------------------------------- domain join and restarts
def test_add_computer_wrong_password_is_windows_error(world):
    err = fails(ctx_for(world), "Add-Computer", Arg("DomainName", "hyper.local"),
                Arg("Credential", cred("HYPER\\Administrator", "wrong")), Arg("Force", True, switch=True))
    assert err.message == ("Computer 'HV01' failed to join domain 'hyper.local' from its current workgroup 'WORKGROUP' "
                           "with following error message: The user name or password is incorrect.")
    assert err.error_id == "FailToJoinDomainFromWorkgroup,Microsoft.PowerShell.Commands.AddComputerCommand"
    assert world.host("HV01")["pending"].get("domain") is None


def test_add_computer_needs_the_domain_controller(world):
    world.power_off("DC01")
    err = fails(ctx_for(world), "Add-Computer", Arg("DomainName", "hyper.local"), Arg("Credential", cred(*DOMAIN_ADMIN)))
    assert err.message.endswith("The specified domain either does not exist or could not be contacted.")


def test_domain_join_takes_effect_after_restart(world):
    ctx = ctx_for(world)
    before = run(ctx, "Get-CimInstance", Arg("ClassName", "Win32_OperatingSystem"))[0].get_prop("LastBootUpTime")
    run(ctx, "Add-Computer", Arg("DomainName", "hyper.local"), Arg("Credential", cred(*DOMAIN_ADMIN)),
        Arg("Force", True, switch=True))
    assert ctx.warnings == ["The changes will take effect after you restart the computer HV01."]
    cs = run(ctx, "Get-CimInstance", Arg(None, "Win32_ComputerSystem"))[0]
    assert cs.get_prop("PartOfDomain") is True and cs.get_prop("Domain") == "hyper.local"
    assert "HV01" in world.domain()["computers"]
    # The domain account cannot log on yet: the join is effective after the restart.
    assert world.check_credential("HV01", *DOMAIN_ADMIN) is None
    err = fails(ctx, "Add-Computer", Arg("DomainName", "hyper.local"), Arg("Credential", cred(*DOMAIN_ADMIN)))
    assert err.message == "Cannot add computer 'HV01' to domain 'hyper.local' because it is already in that domain."
    assert err.error_id == "AddComputerToSameDomain,Microsoft.PowerShell.Commands.AddComputerCommand"
    boot = boot_id(world, "HV01")
    assert run(ctx, "Restart-Computer", Arg("Force", True, switch=True)) == []
    wait_rebooted(world, "HV01", boot)
    after = run(ctx, "Get-CimInstance", Arg("ClassName", "Win32_OperatingSystem"))[0].get_prop("LastBootUpTime")
    assert after > before
    assert world.host("HV01")["domain"] == "hyper.local"
    assert world.check_credential("HV01", *DOMAIN_ADMIN) == "HYPER\\Administrator"
    assert world.fqdn("HV01") == "hv01.hyper.local"


def test_add_computer_with_restart_and_passthru(world):
    ctx = ctx_for(world)
    boot = boot_id(world, "HV01")
    out = run(ctx, "Add-Computer", Arg("DomainName", "HYPER"), Arg("Credential", cred("clusteradmin@hyper.local", "Clu-Pass1")),
              Arg("Restart", True, switch=True), Arg("PassThru", True, switch=True))
    assert out[0].get_prop("HasSucceeded") is True and out[0].get_prop("ComputerName") == "HV01"
    wait_rebooted(world, "HV01", boot)
    assert world.host("HV01")["domain"] == "hyper.local"


def test_remove_computer_leaves_the_domain_after_restart(world):
    ctx = ctx_for(world, "HV01")
    run(ctx, "Add-Computer", Arg("DomainName", "hyper.local"), Arg("Credential", cred(*DOMAIN_ADMIN)))
    world.restart("HV01", "join")
    out = run(ctx, "Remove-Computer", Arg("UnjoinDomainCredential", cred(*DOMAIN_ADMIN)), Arg("Force", True, switch=True),
              Arg("PassThru", True, switch=True))
    assert out[0].get_prop("HasSucceeded") is True and out[0].get_prop("ComputerName") == "HV01"
    assert ctx.warnings[-1] == "The changes will take effect after you restart the computer HV01."
    assert run(ctx, "Get-CimInstance", Arg(None, "Win32_ComputerSystem"))[0].get_prop("PartOfDomain") is False
    assert world.domain()["computers"]["HV01"]["enabled"] is False
    world.restart("HV01", "unjoin")
    assert world.host("HV01")["domain"] is None and world.host("HV01")["workgroup"] == "WORKGROUP"
    err = fails(ctx, "Remove-Computer", Arg("Force", True, switch=True))
    assert "not in a domain" in err.message


def test_restart_computer_of_another_host_needs_credentials(world):
    ctx = ctx_for(world, "HV01")
    err = fails(ctx, "Restart-Computer", Arg("ComputerName", "HV02"), Arg("Force", True, switch=True))
    assert "Access is denied" in err.message
    boot = boot_id(world, "HV02")
    run(ctx, "Restart-Computer", Arg("ComputerName", "HV02"), Arg("Credential", cred("HV02\\Administrator", "Hv2-Local")),
        Arg("Force", True, switch=True))
    wait_rebooted(world, "HV02", boot)


# ----------------------------------------------------------------------------- services
def test_services_start_type_and_status(world):
    ctx = ctx_for(world)
    svc = run(ctx, "Get-Service", Arg(None, "msiscsi"))[0]
    assert svc.get_prop("Name") == "MSiSCSI" and svc.get_prop("Status") == "Stopped" and svc.get_prop("StartType") == "Manual"
    assert svc.type_name == "System.ServiceProcess.ServiceController"
    assert run(ctx, "Set-Service", Arg("Name", "MSiSCSI"), Arg("StartupType", "automatic")) == []
    started = run(ctx, "Start-Service", Arg(None, "MSiSCSI"), Arg("PassThru", True, switch=True))[0]
    assert str(started.get_prop("Status")) == "Running" and str(started.get_prop("StartType")) == "Automatic"
    assert world.service_running("HV01", "MSiSCSI")
    run(ctx, "Stop-Service", Arg("Name", "MSiSCSI"))
    assert not world.service_running("HV01", "MSiSCSI")
    world.restart("HV01", "boot starts automatic services")
    assert world.service_running("HV01", "MSiSCSI")
    assert [s.get_prop("Name") for s in run(ctx, "Get-Service", Arg(None, "Win*"))] == ["WinRM"]


def test_service_errors(world):
    ctx = ctx_for(world)
    err = fails(ctx, "Get-Service", Arg("Name", "NoSuchSvc"))
    assert err.message == "Cannot find any service with service name 'NoSuchSvc'."
    assert err.error_id == "NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.GetServiceCommand"
    assert err.category == "ObjectNotFound" and not err.terminating
    run(ctx, "Set-Service", Arg("Name", "MSiSCSI"), Arg("StartupType", "Disabled"))
    err = fails(ctx, "Start-Service", Arg("Name", "MSiSCSI"))
    assert err.message == ("Service 'Microsoft iSCSI Initiator Service (MSiSCSI)' cannot be started due to the following "
                           "error: Cannot start service MSiSCSI on computer '.'.")
    assert err.error_id == "CouldNotStartService,Microsoft.PowerShell.Commands.StartServiceCommand"


# ----------------------------------------------------------------------------- CIM and network
def test_cim_operating_system_and_computer_system(world):
    ctx = ctx_for(world)
    os_obj = run(ctx, "Get-CimInstance", Arg("ClassName", "Win32_OperatingSystem"))[0]
    assert os_obj.get_prop("CSName") == "HV01" and os_obj.get_prop("BuildNumber") == "20348"
    assert os_obj.get_prop("LastBootUpTime") == parse_iso(world.host("HV01")["last_boot"])
    assert os_obj.type_name.endswith("root/cimv2/Win32_OperatingSystem")
    cs = run(ctx, "Get-CimInstance", Arg(None, "win32_computersystem"))[0]
    assert (cs.get_prop("Name"), cs.get_prop("Domain"), cs.get_prop("PartOfDomain"), cs.get_prop("Workgroup"),
            cs.get_prop("DNSHostName")) == ("HV01", "WORKGROUP", False, "WORKGROUP", "HV01")
    dc = run(ctx_for(world, "DC01"), "Get-CimInstance", Arg(None, "Win32_ComputerSystem"))[0]
    assert dc.get_prop("Domain") == "hyper.local" and dc.get_prop("DomainRole") == 5
    svc = run(ctx, "Get-CimInstance", Arg(None, "Win32_Service"), Arg("Filter", "Name='WinRM'"))
    assert [s.get_prop("State") for s in svc] == ["Running"]
    err = fails(ctx, "Get-CimInstance", Arg(None, "Win32_Nothing"))
    assert err.message == "Invalid class " and err.category == "MetadataError"


def test_net_adapters_and_ip_addresses(world):
    ctx = ctx_for(world)
    nics = run(ctx, "Get-NetAdapter")
    assert [(n.get_prop("Name"), n.get_prop("Status"), n.get_prop("ifIndex")) for n in nics] == [
        ("Ethernet", "Up", 4), ("Ethernet 2", "Up", 6)]
    assert nics[0].get_prop("MacAddress").startswith("00-15-5D-")
    assert [n.get_prop("Name") for n in run(ctx, "Get-NetAdapter", Arg("Name", "Ethernet 2"))] == ["Ethernet 2"]
    err = fails(ctx, "Get-NetAdapter", Arg("Name", "Wi-Fi"))
    assert err.message == ("No MSFT_NetAdapter objects found with property 'Name' equal to 'Wi-Fi'.  Verify the value of "
                           "the property and retry.")
    assert err.error_id == "CmdletizationQuery_NotFound_Name,Get-NetAdapter"
    ips = run(ctx, "Get-NetIPAddress", Arg("InterfaceAlias", "Ethernet 2"), Arg("AddressFamily", "IPv4"))
    assert [(i.get_prop("IPAddress"), i.get_prop("PrefixLength"), str(i.get_prop("AddressFamily"))) for i in ips] == [
        ("192.168.20.11", 16, "IPv4")]
    all_ips = [i.get_prop("IPAddress") for i in run(ctx, "Get-NetIPAddress")]
    assert all_ips == ["192.168.10.11", "192.168.20.11", "127.0.0.1"]


# ----------------------------------------------------------------------------- CredSSP and Invoke-Command
def join(world, host):
    run(ctx_for(world, host), "Add-Computer", Arg("DomainName", "hyper.local"), Arg("Credential", cred(*DOMAIN_ADMIN)))
    world.restart(host, "join")
    assert wait_until(lambda: world.reachable(host))


def test_get_wsman_credssp_strings(world):
    ctx = ctx_for(world)
    assert run(ctx, "Get-WSManCredSSP") == [
        "The machine is not configured to allow delegating fresh credentials.",
        "This computer is not configured to receive credentials from a remote client computer."]
    run(ctx, "Enable-WSManCredSSP", Arg("Role", "Server"), Arg("Force", True, switch=True))
    run(ctx, "Enable-WSManCredSSP", Arg("Role", "Client"), Arg("DelegateComputer", ["hv01.hyper.local", "HV01"]),
        Arg("Force", True, switch=True))
    run(ctx, "Enable-WSManCredSSP", Arg("Role", "Client"), Arg("DelegateComputer", "HV01"), Arg("Force", True, switch=True))
    # PowerShell's CredSSP.cs (GetDelegateSettings): values prepended, joined by the en-US list separator ","
    assert run(ctx, "Get-WSManCredSSP") == [
        "The machine is configured to allow delegating fresh credentials to the following target(s): "
        "wsman/HV01,wsman/hv01.hyper.local",
        "This computer is configured to receive credentials from a remote client computer."]
    run(ctx, "Disable-WSManCredSSP", Arg("Role", "Client"))
    assert world.host("HV01")["credssp"] == {"server": True, "client": False, "delegate": []}
    err = fails(ctx, "Enable-WSManCredSSP", Arg("Role", "Client"))
    assert "DelegateComputer" in err.message


def test_invoke_command_without_credssp_cannot_delegate(world):
    join(world, "HV01")
    ctx = ctx_for(world)
    block = ScriptBlock(None, None, "New-Cluster ...")
    out = run(ctx, "Invoke-Command", Arg("ComputerName", "HV01"), Arg("Credential", cred(*DOMAIN_ADMIN)),
              Arg("ScriptBlock", block), Arg("ArgumentList", ["a", 1]))
    assert out == ["ran on HV01"]
    _, args, session = ctx.runner.calls[-1]
    assert args == ["a", 1]
    assert (session.host, session.user, session.auth, session.can_delegate) == ("HV01", "HYPER\\Administrator", "ntlm", False)
    # Implicit credentials reach the local host, but not another one (the double hop).
    run(ctx, "Invoke-Command", Arg("ComputerName", "localhost"), Arg("ScriptBlock", block))
    assert ctx.runner.calls[-1][2].user == "HV01\\Administrator" and ctx.runner.calls[-1][2].can_delegate is False
    err = fails(ctx, "Invoke-Command", Arg("ComputerName", "HV02"), Arg("ScriptBlock", block))
    assert err.message == ("Connecting to remote server HV02 failed with the following error message : Access is denied. "
                           "For more information, see the about_Remote_Troubleshooting Help topic.")
    assert err.error_id == "AccessDenied,PSSessionStateBroken"
    err = fails(ctx, "Invoke-Command", Arg("ComputerName", "HV01"), Arg("Credential", cred("HYPER\\Administrator", "x")),
                Arg("ScriptBlock", block))
    assert "Access is denied" in err.message


def test_invoke_command_credssp_rules(world):
    join(world, "HV01")
    ctx = ctx_for(world)
    block = ScriptBlock(None, None, "Test-Cluster")

    def credssp(target="HV01", who=DOMAIN_ADMIN):
        return run(ctx, "Invoke-Command", Arg("ComputerName", target), Arg("Credential", cred(*who)),
                   Arg("Authentication", "Credssp"), Arg("ScriptBlock", block))

    with pytest.raises(CmdletError) as e:
        credssp()
    assert "CredSSP authentication is currently disabled in the client configuration" in e.value.message
    with pytest.raises(CmdletError) as e:
        run(ctx, "Invoke-Command", Arg("ComputerName", "HV01"), Arg("Authentication", "Credssp"), Arg("ScriptBlock", block))
    assert "Requests must include user name and password when CredSSP authentication mechanism is used" in e.value.message
    run(ctx, "Enable-WSManCredSSP", Arg("Role", "Client"), Arg("DelegateComputer", "hv01.hyper.local"), Arg("Force", True, switch=True))
    with pytest.raises(CmdletError) as e:
        credssp("HV01")                      # delegation allowed to the FQDN only
    assert "A computer policy does not allow the delegation of the user credentials to the target computer" in e.value.message
    with pytest.raises(CmdletError) as e:
        credssp("hv01.hyper.local")          # server role not enabled yet
    assert "The authentication mechanism requested by the client is not supported by the server" in e.value.message
    run(ctx, "Enable-WSManCredSSP", Arg("Role", "Server"), Arg("Force", True, switch=True))
    assert credssp("hv01.hyper.local") == ["ran on HV01"]
    session = ctx.runner.calls[-1][2]
    assert (session.host, session.user, session.auth, session.can_delegate) == ("HV01", "HYPER\\Administrator", "credssp", True)
    # A local account over CredSSP logs on but has nothing to delegate to the other nodes.
    credssp("hv01.hyper.local", ("HV01\\Administrator", "Hv1-Local"))
    assert ctx.runner.calls[-1][2].can_delegate is False
    with pytest.raises(CmdletError) as e:
        credssp("hv01.hyper.local", ("HYPER\\Administrator", "bad"))
    assert "Access is denied" in e.value.message
    remote = [r for r in world.audit_records("remoting")]
    assert [r["can_delegate"] for r in remote] == [True, False]


def test_invoke_command_to_a_host_that_is_down(world):
    world.power_off("HV02")
    ctx = ctx_for(world, can_delegate=True)
    err = fails(ctx, "Invoke-Command", Arg("ComputerName", "HV02"), Arg("ScriptBlock", ScriptBlock(None, None, "x")))
    assert err.error_id == "WinRMOperationTimeout,PSSessionStateBroken"
    assert "WinRM cannot complete the operation" in err.message


# ----------------------------------------------------------------------------- files
def test_items_new_get_children_remove(world):
    ctx = ctx_for(world)
    d = run(ctx, "New-Item", Arg("ItemType", "Directory"), Arg("Path", "C:\\ClusterStorage\\Volume1\\VMs"))[0]
    assert d.type_name == "System.IO.DirectoryInfo" and d.get_prop("FullName") == "C:\\ClusterStorage\\Volume1\\VMs"
    err = fails(ctx, "New-Item", Arg("ItemType", "Directory"), Arg("Path", "c:\\clusterstorage\\volume1\\vms"))
    assert err.message == "An item with the specified name c:\\clusterstorage\\volume1\\vms already exists."
    assert err.error_id == "DirectoryExist,Microsoft.PowerShell.Commands.NewItemCommand"
    assert run(ctx, "New-Item", Arg("ItemType", "Directory"), Arg("Path", "C:\\ClusterStorage\\Volume1\\VMs"),
               Arg("Force", True, switch=True))[0].get_prop("Name") == "VMs"
    f = run(ctx, "New-Item", Arg("Path", "C:\\ClusterStorage\\Volume1\\VMs\\notes.txt"), Arg("ItemType", "File"),
            Arg("Value", "hello"))[0]
    assert f.type_name == "System.IO.FileInfo" and f.get_prop("Length") == 5 and f.get_prop("Extension") == ".txt"
    err = fails(ctx, "New-Item", Arg("Path", "C:\\Nowhere\\x.txt"), Arg("ItemType", "File"))
    assert err.message == "Could not find a part of the path 'C:\\Nowhere\\x.txt'."
    names = run(ctx, "Get-ChildItem", Arg(None, "C:\\ClusterStorage"), Arg("Recurse", True, switch=True),
                Arg("Name", True, switch=True))
    assert names == ["Volume1", "Volume1\\VMs", "Volume1\\VMs\\notes.txt"]
    assert [i.get_prop("Name") for i in run(ctx, "Get-ChildItem", Arg("Path", "C:\\ClusterStorage\\Volume1\\VMs\\*.txt"))] == ["notes.txt"]
    assert run(ctx, "Get-Item", Arg(None, "C:\\clusterstorage"))[0].get_prop("FullName") == "C:\\ClusterStorage"
    err = fails(ctx, "Remove-Item", Arg(None, "C:\\ClusterStorage"))
    assert "NonInteractive mode" in err.message
    run(ctx, "Remove-Item", Arg(None, "C:\\ClusterStorage"), Arg("Recurse", True, switch=True), Arg("Force", True, switch=True))
    err = fails(ctx, "Get-Item", Arg(None, "C:\\ClusterStorage"))
    assert err.message == "Cannot find path 'C:\\ClusterStorage' because it does not exist."
    assert err.error_id == "PathNotFound,Microsoft.PowerShell.Commands.GetItemCommand" and err.category == "ObjectNotFound"
    assert world.host("HV02")["files"].get("c:\\clusterstorage") is None


def test_literal_path_takes_brackets_as_characters(world):
    ctx = ctx_for(world)
    run(ctx, "New-Item", Arg("ItemType", "File"), Arg("Path", "C:\\Disks\\lab [1]\\a.vhdx"), Arg("Force", True, switch=True))
    run(ctx, "New-Item", Arg("ItemType", "File"), Arg("Path", "C:\\Disks\\lab 1\\b.txt"), Arg("Force", True, switch=True))
    # -Path reads [1] as a character class (matching 'lab 1'); -LiteralPath names 'lab [1]' itself
    assert [i.get_prop("Name") for i in run(ctx, "Get-ChildItem", Arg("Path", "C:\\Disks\\lab [1]"))] == ["b.txt"]
    assert [i.get_prop("Name") for i in run(ctx, "Get-ChildItem", Arg("LiteralPath", "C:\\Disks\\lab [1]"))] == ["a.vhdx"]
    err = fails(ctx, "Get-ChildItem", Arg("LiteralPath", "C:\\Disks\\lab [2]"))
    assert err.message == "Cannot find path 'C:\\Disks\\lab [2]' because it does not exist."
    run(ctx, "Remove-Item", Arg("LiteralPath", "C:\\Disks\\lab [1]\\a.vhdx"))
    run(ctx, "Remove-Item", Arg("LiteralPath", "C:\\Disks\\lab [1]"))
    assert sorted(k for k in world.host("HV01")["files"] if k.startswith("c:\\disks")) == [
        "c:\\disks", "c:\\disks\\lab 1", "c:\\disks\\lab 1\\b.txt"]


def test_test_connection(world):
    ctx = ctx_for(world)
    assert run(ctx, "Test-Connection", Arg(None, "HV02"), Arg("Count", 1), Arg("Quiet", True, switch=True)) == [True]
    world.power_off("HV02")
    assert run(ctx, "Test-Connection", Arg(None, "HV02"), Arg("Quiet", True, switch=True)) == [False]


def test_shared_external_switch_moves_the_address_to_vethernet(world):
    with world.transaction():
        hv = world.host("HV01")
        hv["hyperv"]["switches"]["id-1"] = {"id": "id-1", "name": "LAN", "switch_type": "External",
                                            "net_adapter": "Ethernet 2", "allow_management_os": True}
    ctx = ctx_for(world)
    names = [n.get_prop("Name") for n in run(ctx, "Get-NetAdapter")]
    assert names == ["Ethernet", "Ethernet 2", "vEthernet (LAN)"]
    assert [n.get_prop("Name") for n in run(ctx, "Get-NetAdapter", Arg("Physical", True, switch=True))] == ["Ethernet", "Ethernet 2"]
    ips = {i.get_prop("InterfaceAlias"): i.get_prop("IPAddress") for i in run(ctx, "Get-NetIPAddress")}
    assert ips == {"Ethernet": "192.168.10.11", "vEthernet (LAN)": "192.168.20.11", "Loopback Pseudo-Interface 1": "127.0.0.1"}
