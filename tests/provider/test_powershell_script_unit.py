"""PowerShellScript check/diff and its parameters, before any WinRM call."""
from hvprovider.powershell_script import PowerShellScriptProvider
from hvprovider.validation import UNKNOWN, failures_by_property

CONN = {"host": "127.0.10.11", "username": "Administrator", "password": "pw"}
GOOD = {"connection": CONN, "create": "param($Name)\n\"hello $Name\"", "parameters": {"Name": "x"}}


def failures(**changes):
    return failures_by_property(PowerShellScriptProvider().check({}, {**GOOD, **changes}).failures)


def test_check_refuses_bad_input_by_name():
    assert failures() == {}
    assert PowerShellScriptProvider().check({}, GOOD).inputs["add_previous_output_in_env"] is True
    assert "must not be empty" in failures(create=" \n")["create"]
    assert "is required" in failures(create=None)["create"]
    assert "must not be empty" in failures(update="")["update"]
    bad = failures(parameters={"ok_1": 1, "1st": 2, "a-b": 3, "$x": 4})
    assert "'1st', 'a-b', '$x'" in bad["parameters"] and "PowerShell identifiers" in bad["parameters"]
    assert "choose one of: ntlm, basic, kerberos, credssp" in failures(connection={**CONN, "transport": "ssh"})[
        "connection.transport"]
    env = failures(environment={"A=B": "x", "TOKEN": 1234})
    assert "'A=B'" in env["environment"] and "1234" not in env["environment"]  # never the (secret) value
    assert failures(environment={"A": UNKNOWN}, parameters={"Name": UNKNOWN}) == {}


def test_diff_update_versus_replace():
    p = PowerShellScriptProvider()
    olds = {**p.check({}, GOOD).inputs, "stdout": "hello x", "stderr": ""}
    assert p.diff("x", olds, p.check(olds, GOOD).inputs).changes is False
    changed = p.diff("x", olds, p.check(olds, {**GOOD, "parameters": {"Name": "y"}}).inputs)
    assert changed.changes and changed.replaces == []
    # a trigger replaces without an update script (pulumi-command's rule), updates with one
    triggered = p.diff("x", olds, p.check(olds, {**GOOD, "triggers": [1]}).inputs)
    assert triggered.replaces == ["triggers"] and not triggered.delete_before_replace
    with_update = {**GOOD, "update": "'again'"}
    olds2 = {**p.check({}, with_update).inputs, "stdout": ""}
    assert p.diff("x", olds2, p.check(olds2, {**with_update, "triggers": [UNKNOWN]}).inputs).replaces == []
    assert p.diff("x", olds, p.check(olds, {**GOOD, "connection": {**CONN, "host": "127.0.10.12"}}).inputs
                  ).replaces == ["connection"]


def test_script_params_carry_the_last_output_to_update_and_delete():
    p = PowerShellScriptProvider()
    props = {**p.check({}, {**GOOD, "environment": {"TOKEN": "t"}}).inputs, "stdout": "out", "stderr": ""}
    created = p.script_params(props, "create")
    assert created == {"Script": GOOD["create"], "Parameters": {"Name": "x"}, "Environment": {"TOKEN": "t"}}
    updated = p.script_params(props, "update")  # no update script: create runs again
    assert updated["Script"] == GOOD["create"]
    assert updated["Environment"] == {"TOKEN": "t", "PULUMI_COMMAND_STDOUT": "out"}
    assert p.script_params({**props, "add_previous_output_in_env": False}, "delete")["Environment"] == {"TOKEN": "t"}
