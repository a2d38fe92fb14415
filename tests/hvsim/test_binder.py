"""Parameter binding against the catalog, with Windows' own error texts; auditing and injected faults.

Each test binds against a real catalog entry with a stand-in implementation that echoes what it got,
so these tests need neither the interpreter nor the emulations.
"""
from __future__ import annotations

import json

import pytest

from hvsim.cmdlets import registry
from hvsim.cmdlets.registry import (Arg, CmdletContext, CmdletError, CmdletInfo, ParameterBindingError, Session,
                                    catalog_entry, invoke)
from hvsim.powershell.values import PSCredential, PSObject, ScriptBlock
from hvsim.world import World

LAB = {"time_factor": 0.0, "hosts": {"HV01": {}, "HV02": {}}}


@pytest.fixture
def ctx(tmp_path):
    world = World(tmp_path / "state", lab=LAB)
    yield CmdletContext(world, Session("HV01", "HV01\\Administrator", "ntlm", False))
    world.close()


def echo(name: str) -> CmdletInfo:
    entry = catalog_entry(name)
    assert entry is not None, name
    return CmdletInfo(entry.name, entry.module, entry.spec,
                      impl=lambda c, p: [{"set": p.parameter_set, "params": dict(p), "common": dict(p.common),
                                          "pipeline": list(p.pipeline)}])


def bind(ctx, name, *args, pipeline=None):
    return invoke(echo(name), ctx, list(args), pipeline)


def bind_error(ctx, name, *args, pipeline=None) -> ParameterBindingError:
    with pytest.raises(ParameterBindingError) as info:
        bind(ctx, name, *args, pipeline=pipeline)
    return info.value


def test_catalog_covers_design_section_8_with_sources():
    names = ["Get-WindowsFeature", "Add-Computer", "Get-CimInstance", "Enable-WSManCredSSP", "Invoke-Command",
             "Get-NetAdapter", "Get-NetIPAddress", "New-IscsiServerTarget", "Connect-IscsiTarget", "Get-InitiatorPort",
             "Set-Disk", "New-Cluster", "Add-ClusterVirtualMachineRole", "New-VM", "Set-VMMemory", "Remove-Item"]
    for name in names:
        entry = catalog_entry(name)
        assert entry is not None, name
        src = entry.spec["source"]
        assert src["repo"].startswith("MicrosoftDocs/") and src["path"].endswith(f"/{name}.md") and len(src["commit"]) == 40
    assert len(registry.catalog()) >= 94
    # A generated entry keeps Windows' parameter sets.
    assert "ByUniqueId" in catalog_entry("Get-Disk").parameter_sets
    assert catalog_entry("set-disk").default_parameter_set == "ByNumberAttributes"


def test_unknown_parameter_is_windows_error(ctx):
    err = bind_error(ctx, "Get-Service", Arg("Bogus", 1))
    assert err.message == "A parameter cannot be found that matches parameter name 'Bogus'."
    assert err.error_id == "NamedParameterNotFound,Microsoft.PowerShell.Commands.GetServiceCommand"
    assert err.category == "InvalidArgument"
    assert err.exception_type == "System.Management.Automation.ParameterBindingException"
    assert err.terminating
    # CDXML cmdlets carry their own name in the error id.
    assert bind_error(ctx, "Get-Disk", Arg("Nope", 1)).error_id == "NamedParameterNotFound,Get-Disk"


def test_ambiguous_prefix_lists_the_candidates(ctx):
    err = bind_error(ctx, "Set-Disk", Arg("Number", 1), Arg("Is", False))
    assert err.message == ("Parameter cannot be processed because the parameter name 'Is' is ambiguous. "
                           "Possible matches include: -IsReadOnly -IsOffline.")
    assert err.error_id == "AmbiguousParameter,Set-Disk"


def test_names_are_case_insensitive_with_prefixes_and_aliases(ctx):
    out = bind(ctx, "Set-Disk", Arg("number", "3"), Arg("isoff", False))[0]
    assert out["params"] == {"Number": 3, "IsOffline": False} and out["set"] == "ByNumber"
    out = bind(ctx, "Get-Disk", Arg("DeviceId", [1, 2]))[0]            # alias of -Number
    assert out["params"] == {"Number": [1, 2]}
    out = bind(ctx, "Get-Disk", Arg("Id", "abc"))[0]                   # alias of -UniqueId
    assert out["params"] == {"UniqueId": ["abc"]} and out["set"] == "ByUniqueId"


def test_switches_and_common_parameters(ctx):
    out = bind(ctx, "Install-WindowsFeature", Arg("Name", "Hyper-V"), Arg("IncludeManagementTools", True, switch=True),
               Arg("Restart", False), Arg("ea", "stop"), Arg("Verbose", True, switch=True))[0]
    assert out["params"] == {"Name": ["Hyper-V"], "IncludeManagementTools": True, "Restart": False}
    assert out["common"] == {"ErrorAction": "Stop", "Verbose": True}
    # WhatIf exists only on cmdlets that support ShouldProcess; there the emulation is not called.
    assert bind(ctx, "Install-WindowsFeature", Arg("Name", "x"), Arg("WhatIf", True, switch=True)) == []
    err = bind_error(ctx, "Get-Service", Arg("WhatIf", True, switch=True))
    assert err.error_id.startswith("NamedParameterNotFound,")
    err = bind_error(ctx, "Get-Service", Arg("ErrorAction", "Sometimes"))
    assert "Cannot convert value \"Sometimes\" to type \"ActionPreference\"" in err.message


def test_missing_argument_for_a_non_switch(ctx):
    err = bind_error(ctx, "Get-Disk", Arg("Number", True, switch=True))
    assert err.message == "Missing an argument for parameter 'Number'. Specify a parameter of type 'System.UInt32[]' and try again."
    assert err.error_id == "MissingArgument,Get-Disk"


def test_type_conversion_errors(ctx):
    err = bind_error(ctx, "Set-Disk", Arg("Number", "x"), Arg("IsOffline", False))
    assert err.message == ("Cannot bind parameter 'Number'. Cannot convert value \"x\" to type \"System.UInt32\". "
                           "Error: \"Input string was not in a correct format.\"")
    err = bind_error(ctx, "Set-Disk", Arg("Number", 1), Arg("IsOffline", "false"))
    assert err.message.startswith("Cannot process argument transformation on parameter 'IsOffline'. Cannot convert value "
                                  "\"System.String\" to type \"System.Boolean\". Boolean parameters accept only Boolean "
                                  "values and numbers")
    err = bind_error(ctx, "Set-Disk", Arg("Number", -1), Arg("IsOffline", False))
    assert "Value was either too large or too small for a" in err.message
    err = bind_error(ctx, "Enable-WSManCredSSP", Arg("Role", "Both"))
    assert err.message == ("Cannot validate argument on parameter 'Role'. The argument \"Both\" does not belong to the set "
                           "\"Client,Server\" specified by the ValidateSet attribute. Supply an argument that is in the "
                           "set and then try the command again.")
    err = bind_error(ctx, "Initialize-Disk", Arg("Number", 1), Arg("PartitionStyle", "GPX"))
    assert "Unable to match the identifier name GPX to a valid enumerator name" in err.message
    assert "MBR, GPT" in err.message



def test_cim_instance_parameters_take_cim_objects_only(ctx):
    # Get-ClusterAvailableDisk -Disk 'foo' fails binding instead of silently matching no disk
    err = bind_error(ctx, "Get-ClusterAvailableDisk", Arg("Disk", "foo"))
    assert err.message == ("Cannot bind parameter 'Disk'. Cannot convert the \"foo\" value of type \"System.String\" "
                           "to type \"Microsoft.Management.Infrastructure.CimInstance\".")
    assert err.error_id.startswith("CannotConvertArgumentNoMessage")
    disk = PSObject({"UniqueId": "u1"},
                    type_name="Microsoft.Management.Infrastructure.CimInstance#ROOT/Microsoft/Windows/Storage/MSFT_Disk")
    assert bind(ctx, "Get-ClusterAvailableDisk", Arg("Disk", disk))[0]["params"]["Disk"] is disk


def test_type_conversion_results(ctx):
    out = bind(ctx, "New-IscsiVirtualDisk", Arg("Path", "C:\\v\\q.vhdx"), Arg("SizeBytes", "1GB"))[0]
    assert out["params"] == {"Path": "C:\\v\\q.vhdx", "SizeBytes": 1073741824}
    out = bind(ctx, "Initialize-Disk", Arg("Number", 1), Arg("PartitionStyle", "gpt"))[0]
    assert out["params"]["PartitionStyle"] == "GPT"
    out = bind(ctx, "Set-Disk", Arg("Number", 2.0), Arg("IsOffline", 0))[0]
    assert out["params"] == {"Number": 2, "IsOffline": False}
    out = bind(ctx, "New-Cluster", Arg("Name", "C1"), Arg("Node", "HV01"), Arg("NoStorage", True, switch=True))[0]
    assert out["params"] == {"Name": "C1", "Node": ["HV01"], "NoStorage": True}
    err = bind_error(ctx, "Set-Disk", Arg("Number", [1, 2]), Arg("IsOffline", False))
    assert err.message == ("Cannot convert 'System.Object[]' to the type 'System.UInt32' required by parameter 'Number'. "
                           "Specified method is not supported.")


def test_positional_binding_and_too_many_arguments(ctx):
    block = ScriptBlock(None, None, "hostname")
    out = bind(ctx, "Invoke-Command", Arg(None, "HV01"), Arg(None, block))[0]
    assert out["set"] == "ComputerName" and out["params"]["ComputerName"] == ["HV01"] and out["params"]["ScriptBlock"] is block
    out = bind(ctx, "Invoke-Command", Arg("ComputerName", "HV01"), Arg(None, block))[0]
    assert out["set"] == "ComputerName" and "FilePath" not in out["params"]
    out = bind(ctx, "Get-Service", Arg(None, "WinRM"))[0]
    assert out["params"] == {"Name": ["WinRM"]}
    err = bind_error(ctx, "Get-Service", Arg(None, "WinRM"), Arg(None, "extra"))
    assert err.message == "A positional parameter cannot be found that accepts argument 'extra'."
    assert err.error_id == "PositionalParameterNotFound,Microsoft.PowerShell.Commands.GetServiceCommand"


def test_missing_mandatory_parameters(ctx):
    err = bind_error(ctx, "New-IscsiVirtualDisk", Arg("Path", "C:\\x.vhdx"))
    assert err.message == "Cannot process command because of one or more missing mandatory parameters: SizeBytes."
    assert err.error_id == "MissingMandatoryParameter,Microsoft.Iscsi.Target.Commands.NewIscsiVirtualDiskCommand"
    err = bind_error(ctx, "Add-Computer", Arg("Force", True, switch=True))
    assert err.message == "Cannot process command because of one or more missing mandatory parameters: Credential DomainName."


def test_null_and_empty_for_mandatory(ctx):
    err = bind_error(ctx, "New-Cluster", Arg("Name", None))
    assert err.message == "Cannot bind argument to parameter 'Name' because it is null."
    err = bind_error(ctx, "New-Cluster", Arg("Name", ""))
    assert err.message == "Cannot bind argument to parameter 'Name' because it is an empty string."


def test_parameter_set_resolution(ctx):
    err = bind_error(ctx, "Set-Disk", Arg("UniqueId", "u"), Arg("Number", 1))
    assert err.message == "Parameter set cannot be resolved using the specified named parameters."
    assert err.error_id == "AmbiguousParameterSet,Set-Disk"
    assert bind(ctx, "Set-Disk", Arg("UniqueId", "u"), Arg("IsOffline", False))[0]["set"] == "ById"
    assert bind(ctx, "Set-Disk", Arg("UniqueId", "u"), Arg("IsReadOnly", False))[0]["set"] == "ByIdAttributes"
    err = bind_error(ctx, "Set-Disk", Arg("UniqueId", "u"), Arg("IsReadOnly", False), Arg("IsOffline", False))
    assert err.error_id == "AmbiguousParameterSet,Set-Disk"


def test_duplicate_parameter(ctx):
    err = bind_error(ctx, "Get-Disk", Arg("Number", 1), Arg("DeviceId", 2))
    assert err.message.startswith("Cannot bind parameter because parameter 'Number' is specified more than once.")


def test_pipeline_by_value_then_by_property_name(ctx):
    disk = PSObject({"Number": 4, "UniqueId": "60003FF4", "Path": "\\\\?\\disk"},
                    type_name="Microsoft.Management.Infrastructure.CimInstance#ROOT/Microsoft/Windows/Storage/MSFT_Disk")
    out = bind(ctx, "Set-Disk", Arg("IsOffline", False), pipeline=[disk])[0]
    assert out["set"] == "ByObject" and out["params"]["InputObject"] == [disk] and out["pipeline"] == ["InputObject"]
    named = PSObject({"Name": "MSiSCSI"})
    outs = bind(ctx, "Get-Service", pipeline=["WinRM", named])
    assert [o["params"]["Name"] for o in outs] == [["WinRM"], ["MSiSCSI"]]
    feature = PSObject({"Name": "Hyper-V", "Installed": False}, type_name="Microsoft.Windows.ServerManager.Commands.Feature")
    assert bind(ctx, "Install-WindowsFeature", pipeline=[feature])[0]["params"]["Name"] == ["Hyper-V"]
    assert bind(ctx, "Get-Service", pipeline=[]) == []
    err = bind_error(ctx, "Get-WSManCredSSP", pipeline=["x"])
    assert err.error_id.startswith("InputObjectNotBound,")
    # A string is not coerced into a CimInstance or a typed object.
    assert bind_error(ctx, "Set-Disk", Arg("IsOffline", False), pipeline=["disk"]).error_id == "InputObjectNotBound,Set-Disk"
    vm = PSObject({"Name": "VM1"}, type_name="Microsoft.HyperV.PowerShell.VirtualMachine")
    assert bind(ctx, "Start-VM", pipeline=[vm])[0]["params"] == {"VM": [vm]}
    assert bind(ctx, "Start-VM", pipeline=["VM1"])[0]["params"] == {"Name": ["VM1"]}


def test_takes_argument_and_resolve_parameter():
    info = catalog_entry("Remove-Item")
    assert info.takes_argument("Force") is False and info.takes_argument("rec") is False
    assert info.takes_argument("Path") is True and info.takes_argument("NotAParam") is True
    assert info.resolve_parameter("lit") == "LiteralPath"
    with pytest.raises(ParameterBindingError):
        info.resolve_parameter("Zzz")


def test_invoke_audits_with_secrets_masked(ctx):
    cred = PSCredential("HYPER\\Administrator", "S3cret!")
    bind(ctx, "Add-Computer", Arg("DomainName", "hyper.local"), Arg("Credential", cred), Arg("Force", True, switch=True))
    text = (ctx.world.state_dir / "audit.jsonl").read_text()
    assert "S3cret!" not in text
    rec = [r for r in ctx.world.audit_records("cmdlet") if r["cmdlet"] == "Add-Computer"][-1]
    assert rec["params"]["Credential"] == {"UserName": "HYPER\\Administrator", "Password": "********"}
    assert rec["params"]["DomainName"] == "hyper.local" and rec["mutating"] is True
    assert rec["host"] == "HV01" and rec["user"] == "HV01\\Administrator" and rec["parameter_set"] == "Domain"
    bind(ctx, "Get-Service", Arg("Name", "WinRM"))
    assert ctx.world.audit_records("cmdlet")[-1]["mutating"] is False
    assert registry.audit_value("ClusterPassword", "plain") == "********"
    # A binding error is audited too, without the secret.
    bind_error(ctx, "Add-Computer", Arg("Credential", cred), Arg("Bogus", 1))
    last = ctx.world.audit_records("cmdlet")[-1]
    assert last["bound"] is False and "NamedParameterNotFound" in last["error_id"] and "S3cret!" not in json.dumps(last)


def test_injected_fault_fails_once_on_the_right_host(ctx):
    with ctx.world.transaction() as data:
        data["faults"]["cmdlet_fail_once"] = [
            {"host": "HV02", "cmdlet": "New-Cluster", "message": "not this host"},
            {"host": "HV01", "cmdlet": "new-cluster", "message": "The cluster service did not start."},
        ]
    with pytest.raises(CmdletError) as info:
        bind(ctx, "New-Cluster", Arg("Name", "C1"))
    assert info.value.message == "The cluster service did not start."
    assert info.value.error_id == "InjectedFault,Microsoft.FailoverClusters.PowerShell.NewClusterCommand"
    assert bind(ctx, "New-Cluster", Arg("Name", "C1"))[0]["params"] == {"Name": "C1"}
    assert ctx.world.data["faults"]["cmdlet_fail_once"] == [{"host": "HV02", "cmdlet": "New-Cluster", "message": "not this host"}]
    assert [r["fault"] for r in ctx.world.audit_records("cmdlet") if r["cmdlet"] == "New-Cluster"] == [True, False]


def test_cmdlet_error_ids_get_the_implementing_type(ctx):
    entry = catalog_entry("Get-Service")

    def fail(c, p):
        raise CmdletError("Cannot find any service with service name 'x'.", "NoServiceFoundForGivenName",
                          category="ObjectNotFound")
    info = CmdletInfo(entry.name, entry.module, entry.spec, impl=fail)
    with pytest.raises(CmdletError) as err:
        invoke(info, ctx, [Arg("Name", "x")], None)
    assert err.value.error_id == "NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.GetServiceCommand"
    assert err.value.command == "Get-Service"
    done = ctx.world.audit_records("cmdlet_done")[-1]
    assert done["cmdlet"] == "Get-Service" and done["error"].startswith("Cannot find any service")


def test_lookup_only_returns_emulated_cmdlets():
    assert registry.lookup("get-service").name == "Get-Service"
    assert registry.lookup("Get-Foo") is None
    assert registry.lookup("Where-Object") is None
