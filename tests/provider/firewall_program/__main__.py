"""LabFirewall on the storage host and nodes, and ManagementTools on DC01 (config tools: true), as a user writes it (tests/provider/test_lab_firewall.py).

Config: hosts {"DC01": {"host", "port"}, ...}; purposes {"DC01": [...], "HV01": [...]}. Secrets: passwords."""
import pulumi

from hvprovider.connection import ConnectionArgs
from hvprovider.lab_firewall import LabFirewall
from hvprovider.management_tools import ManagementTools

cfg = pulumi.Config()
hosts = cfg.require_object("hosts")
passwords = cfg.require_secret_object("passwords")
for name, purposes in cfg.require_object("purposes").items():
    fw = LabFirewall(name.lower(), connection=ConnectionArgs(
        host=hosts[name]["host"], port=hosts[name]["port"], username=f"{name}\\Administrator",
        password=passwords.apply(lambda p, n=name: p[n])), purposes=purposes)
    pulumi.export(f"{name.lower()}_changes", fw.last_changes)
    pulumi.export(f"{name.lower()}_created", fw.created_rules)

if cfg.get_bool("tools"):
    tools = ManagementTools("dc01-tools", connection=ConnectionArgs(
        host=hosts["DC01"]["host"], port=hosts["DC01"]["port"], username="DC01\\Administrator",
        password=passwords.apply(lambda p: p["DC01"])))
    pulumi.export("tools_installed", tools.installed_features)
