"""PowerShellScript end to end: the real engine, the real pywinrm, hvsim (one host, HV01). One scenario
keeps the engine runs few; each step asserts on hvsim's world, its audit log and the Pulumi state.

Steps: bad input fails at preview, before any WinRM call -> create with hostile parameter values (taken
as data: the one cmdlet the script calls gets them verbatim, nothing else runs) and a secret in the
environment (stdout/stderr secret, the value nowhere in the state or the audit) -> a second up runs
nothing -> a changed parameter runs the update script with the last output in the environment -> a
trigger change without an update script replaces (create the new, delete the old) -> a failing delete
script fails the destroy with host, line and cmdlet, keeps the resource, and masks the secret -> fixed,
the destroy goes through.
"""
import json

PROGRAM = '''
import pulumi
from hvprovider import ConnectionArgs, PowerShellScript

cfg = pulumi.Config()
target = cfg.require_object("target")
conn = ConnectionArgs(host=target["host"], port=target["port"], username=target["username"],
                      password=cfg.require_secret("password"), transport=target.get("transport", "ntlm"))
step = cfg.require_object("step")
script = PowerShellScript("step", connection=conn, environment={"STEP_TOKEN": cfg.require_secret("token")}, **step)
pulumi.export("stdout", script.stdout)
pulumi.export("stderr", script.stderr)
'''

# values a careless template would break: quotes, $(), ;, &, backticks, a newline, a comment
HOSTILE = "it's \"quoted\" $(Remove-Item -LiteralPath C:\\Windows -Recurse); & `Stop-Computer` \n# Restart-Computer"
TOKEN = "tok-7c1e-secret-value"
PATH = "C:\\steps\\step.txt"

CREATE = """param([string]$Path, [string]$Text, [int]$Count)
New-Item -Path $Path -ItemType File -Value $Text -Force | Out-Null
"created: $Text"
"count: $Count"
if ($env:STEP_TOKEN) { 'token seen' }
Write-Error "a warning-level problem" -ErrorAction Continue
"""
UPDATE = """param([string]$Path, [string]$Text, [int]$Count)
New-Item -Path $Path -ItemType File -Value $Text -Force | Out-Null
"updated: count $Count"
"before: $(($env:PULUMI_COMMAND_STDOUT -split "`n")[-2])"
"""
DELETE = """param([string]$Path)
Remove-Item -LiteralPath $Path
'deleted'
"""
FAILING_DELETE = """param([string]$Path)
'cleaning up'
Get-Item -LiteralPath "C:\\no-such-dir\\$env:STEP_TOKEN" | Remove-Item
"""


def target(lab, **extra):
    ep = lab.host_endpoint("HV01")
    return {"host": ep["address"], "port": ep["http_port"], "username": lab.credentials("HV01")[0], **extra}


def step(text=HOSTILE, count=1, update=None, delete=DELETE, triggers=None, **extra):
    out = {"create": CREATE, "delete": delete, "parameters": {"Path": PATH, "Text": text, "Count": count}, **extra}
    if update:
        out["update"] = update
    if triggers is not None:
        out["triggers"] = triggers
    return out


def cmdlets(records):
    return [r for r in records if r.get("kind") == "cmdlet"]


def test_powershell_script_lifecycle(hvsim_lab, pulumi_project):
    lab = hvsim_lab
    password = lab.credentials("HV01")[1]
    project = pulumi_project(PROGRAM, config={"target": target(lab, transport="ssh"),
                                              "step": {**step(), "create": "  ",
                                                       "parameters": {"Path": PATH, "bad-name": 1}}},
                             secrets={"password": password, "token": TOKEN})

    # -- bad input: named at preview, before any WinRM call -------------------------------------------
    n = len(lab.audit())
    refused = project.preview(expect_failure=True)
    assert "connection.transport" in refused.output and "choose one of: ntlm, basic, kerberos, credssp" in refused.output
    assert "create" in refused.output and "must not be empty" in refused.output
    assert "'bad-name'" in refused.output and "not PowerShell identifiers" in refused.output
    assert len(lab.audit()) == n  # hvsim saw nothing

    # -- create: hostile values are data; the secret stays secret -------------------------------------
    project.set_config("target", target(lab))
    project.set_config("step", step())
    n = len(lab.audit())
    project.up()
    ran = cmdlets(lab.audit()[n:])
    assert [r["cmdlet"] for r in ran if r["mutating"]] == ["New-Item"]  # nothing else ran
    [new_item] = [r for r in ran if r["cmdlet"] == "New-Item"]
    assert new_item["params"]["Value"] == HOSTILE and new_item["params"]["Path"] == [PATH]
    stored = lab.world()["hosts"]["HV01"]["files"][PATH.lower()]
    assert stored["size"] == len(HOSTILE.encode("utf-8"))
    out = project.outputs(show_secrets=True)
    assert out["stdout"].splitlines() == [f"created: {HOSTILE.splitlines()[0]}", HOSTILE.splitlines()[1],
                                          "count: 1", "token seen"]
    assert out["stderr"] == "a warning-level problem"
    exported = project.export()
    [res] = [r for r in exported["deployment"]["resources"] if r["urn"].endswith("::step")]
    assert res["id"].startswith(f"{target(lab)['host']}/powershell-script/")
    for secret_output in ("stdout", "stderr", "environment", "connection"):
        assert "ciphertext" in res["outputs"][secret_output], secret_output
    assert res["outputs"]["parameters"]["Text"] == HOSTILE  # plain parameters stay readable
    text = project.export_text() + (lab.state_dir / "audit.jsonl").read_text(encoding="utf-8")
    assert TOKEN not in text and password not in text
    first_id = res["id"]

    # -- a second up: nothing runs ---------------------------------------------------------------------
    n = len(lab.audit())
    assert set(project.up().change_summary) == {"same"}
    assert cmdlets(lab.audit()[n:]) == []

    # -- a changed parameter runs the update script, which sees the last output ------------------------
    project.set_config("step", step(count=2, update=UPDATE))
    n = len(lab.audit())
    assert project.up().change_summary.get("update") == 1
    assert [r["cmdlet"] for r in cmdlets(lab.audit()[n:]) if r["mutating"]] == ["New-Item"]
    assert project.outputs(show_secrets=True)["stdout"].splitlines() == ["updated: count 2", "before: count: 1"]

    # -- a trigger without an update script replaces: the new one is created, then the old deleted ----
    project.set_config("step", step(count=2, triggers=["v2"]))
    n = len(lab.audit())
    assert project.up().change_summary.get("replace") == 1
    assert [r["cmdlet"] for r in cmdlets(lab.audit()[n:]) if r["mutating"]] == ["New-Item", "Remove-Item"]
    assert project.resources()[-1]["id"] != first_id
    assert PATH.lower() not in lab.world()["hosts"]["HV01"]["files"]  # the old one's delete ran last

    # -- a failing delete script: destroy fails, says where, keeps the resource, masks the secret ------
    project.set_config("step", step(count=2, triggers=["v2"], delete=FAILING_DELETE))
    project.up()
    failed = project.destroy(expect_failure=True)
    assert "PowerShell failed on" in failed.output and "delete script" in failed.output
    assert "line 3 in Get-Item" in failed.output and "C:\\no-such-dir\\********" in failed.output
    assert TOKEN not in failed.output
    assert any(r["urn"].endswith("::step") for r in project.resources())
    assert "Remove-Item" not in [r["cmdlet"] for r in cmdlets(lab.audit())][-1:]

    # -- fixed: the destroy runs the new delete script and goes through --------------------------------
    project.set_config("step", step(count=2, triggers=["v2"]))
    project.up()
    n = len(lab.audit())
    project.destroy()
    assert [r["cmdlet"] for r in cmdlets(lab.audit()[n:]) if r["mutating"]] == ["Remove-Item"]
    assert not [r for r in project.resources() if r["urn"].endswith("::step")]
    assert PATH.lower() not in lab.world()["hosts"]["HV01"]["files"]
    assert json.dumps(project.export()).count(TOKEN) == 0
