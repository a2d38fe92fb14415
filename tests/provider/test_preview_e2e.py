"""Bad input through a real `pulumi preview` against hvsim: the message names the property the user
wrote and what is allowed, no Python traceback, no `value {<nil>}`, and hvsim sees no WinRM call.
(tests/provider/test_preview_checks.py has the table of every check; these are the paths through the
engine: ClusterLab's stack config, a resource's check, a node name known only from another
resource's output, an unknown keyword argument.)"""
import json
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def diagnostics(result):
    """The preview's messages as the user reads them (the harness previews with --json)."""
    data = json.loads(result.stdout)
    return "\n".join(d.get("message", "") for d in data.get("diagnostics") or []) + result.stderr


def winrm_commands(lab):
    return [r for r in lab.audit() if r.get("kind") in ("command", "shell", "cmdlet")]


def assert_clean(output):
    assert "Traceback" not in output and "<nil>" not in output and "value {" not in output, output


def conn_text(lab, host):
    ep = lab.host_endpoint(host)
    user, password = lab.credentials(host)
    return f"ConnectionArgs(host={ep['address']!r}, port={ep['http_port']}, username={user!r}, password={password!r})"


def test_the_seed_program_names_stack_config_keys(hvsim_lab, pulumi_project, tmp_path):
    from test_lab_e2e import lab_shape, secrets_of

    program = tmp_path / "seed"
    program.mkdir()
    shutil.copy(REPO / "__main__.py", program / "__main__.py")
    shape = lab_shape(hvsim_lab)
    shape["cluster"]["skipValidation"] = "no"              # read as True before: validation skipped
    shape["nodes"][1]["name"] = "hv01"                     # a duplicate node
    shape["domain"]["fqdn"] = "hyper_local"
    shape["vm"]["ownerNode"] = "HV03"
    project = pulumi_project(program, config={"lab": shape}, secrets=secrets_of(hvsim_lab))
    # every value that is wrong on its own, at once
    out = diagnostics(project.preview(expect_failure=True))
    assert "stack config lab: 2 problem(s), nothing was changed" in out
    assert "lab.cluster.skipValidation: must be true or false, got string 'no'" in out
    assert "lab.domain.fqdn: 'hyper_local' is not a DNS name" in out
    # raised before any resource exists: nothing pending that the engine's shutdown could cut off
    assert "Resource monitor has terminated" not in out
    assert_clean(out)
    # then what only the whole lab can know
    shape["cluster"]["skipValidation"] = "false"
    shape["domain"]["fqdn"] = "hyper.local"
    project.set_config("lab", shape)
    out = diagnostics(project.preview(expect_failure=True))
    assert "stack config lab: 3 problem(s), nothing was changed" in out
    assert "lab.nodes[1].name: 'hv01' is listed twice" in out
    assert "lab.vm.ownerNode: 'HV03' is not a node of the lab; its nodes are: HV01, hv01" in out
    assert "lab.vm.preferredOwners[1]: 'HV02' is not a node of the lab" in out
    assert_clean(out)
    assert project.resources() == [] and winrm_commands(hvsim_lab) == []


def test_resource_checks_through_the_engine(hvsim_lab, pulumi_project):
    lab = hvsim_lab
    program = f'''
import pulumi
from hvprovider import *

hv01 = {conn_text(lab, "HV01")}
cluster = FailoverCluster("cluster", connection=hv01, domain_username="HYPER\\\\Administrator",
                          domain_password="pw", name="CLUSTER9", nodes=["HV01", "HV02"],
                          static_address="192.168.10.29")
HighlyAvailableVM("vm", connection=hv01, domain_username="HYPER\\\\Administrator", domain_password="pw",
                  name="VM9", path="C:\\\\ClusterStorage\\\\Volume1", memory_startup_bytes="1GB",
                  disk_size_bytes="10GB", switch_name=pulumi.Config().get("switch") or "VMNet",
                  owner_node=pulumi.Config().get("owner") or "HV01", preferred_owners=["HV02", "HV01"],
                  cluster_nodes=cluster.nodes)
'''
    # a node the cluster does not have: known at preview from FailoverCluster's own output (its inputs)
    project = pulumi_project(program, config={"owner": "HV03"})
    out = diagnostics(project.preview(expect_failure=True))
    assert "HighlyAvailableVM resource 'vm' has a problem: owner_node: 'HV03' is not a node of the cluster; " \
           "its nodes are: HV01, HV02" in out
    assert_clean(out)
    # an empty switch: a clustered VM with no network is refused (the VM must be connected first)
    project.set_config("owner", "HV02")
    project.set_config("switch", " ")
    out = diagnostics(project.preview(expect_failure=True))
    assert "resource 'vm' has a problem: switch_name: must not be empty" in out
    assert_clean(out)
    # right values: the preview passes (and still runs nothing on a host)
    project.set_config("switch", "VMNet")
    assert project.preview().change_summary.get("create") == 3
    assert winrm_commands(lab) == []


def test_an_unknown_keyword_is_one_line(hvsim_lab, pulumi_project):
    program = f'''
from hvprovider import IscsiTarget, ConnectionArgs
IscsiTarget("t", connection={conn_text(hvsim_lab, "DC01")}, target_name="cluster",
            initiator_ids=["DNSName:hv01.hyper.local", "hv02"], colour="blue")
'''
    project = pulumi_project(program)
    out = diagnostics(project.preview(expect_failure=True))
    assert "IscsiTarget: unknown argument(s) colour; allowed: connection, target_name, initiator_ids, description" in out
    assert_clean(out)
    # without the unknown keyword the bad list item is named by its index
    project = pulumi_project(program.replace(', colour="blue"', ""), stack="second")
    out = diagnostics(project.preview(expect_failure=True))
    assert "IscsiTarget resource 't' has a problem: initiator_ids[1]: 'hv02' is not an initiator id" in out
    assert_clean(out)
    assert winrm_commands(hvsim_lab) == []


def test_the_monitor_line_on_a_failed_check_is_the_sdks(pulumi_project):
    """`error: Resource monitor has terminated, shutting down` follows every failed check of a Python
    program: a plain pulumi.dynamic provider (nothing of ours) prints it the same way. The engine ends
    the run on the check failure and closes its monitor while the program still awaits its
    registrations; the Python SDK reports that as a RunError (docs/provider.md, Common behaviour)."""
    program = '''
from pulumi.dynamic import CheckFailure, CheckResult, Resource, ResourceProvider

class Provider(ResourceProvider):
    def check(self, olds, news):
        return CheckResult(news, [CheckFailure("", "x: refused")])

class Plain(Resource):
    pass

Plain(Provider(), "plain", {"x": 1})
'''
    out = diagnostics(pulumi_project(program).preview(expect_failure=True))
    assert "resource 'plain' has a problem: x: refused" in out
    assert "Resource monitor has terminated, shutting down" in out
