"""The seed's step 1 and 3 as a user writes them: DC01 becomes the first DC of a new forest, HV01 joins
it (tests/provider/test_domain_controller_e2e.py drives it).

Config: hosts {"DC01": {"host", "port"}, "HV01": {...}}, domain "hyper.local", demote (bool, optional).
Secrets: passwords {"DC01": "...", "HV01": "..."}, dsrm_password.
"""
import pulumi

from hvprovider.cluster_node import ClusterNode, ClusterNodeArgs
from hvprovider.connection import ConnectionArgs
from hvprovider.domain_controller import DomainController, DomainControllerArgs

cfg = pulumi.Config()
hosts = cfg.require_object("hosts")
passwords = cfg.require_secret_object("passwords")


def connection(name: str, username: str) -> ConnectionArgs:
    return ConnectionArgs(host=hosts[name]["host"], port=hosts[name]["port"], username=username,
                          password=passwords.apply(lambda p: p[name]))


dc = DomainController("dc01", DomainControllerArgs(
    connection=connection("DC01", "Administrator"),
    domain_name=cfg.require("domain"),
    safe_mode_password=cfg.require_secret("dsrm_password"),
    demote_on_delete=cfg.get_bool("demote") or False,
))
pulumi.export("domain_fqdn", dc.domain_fqdn)
pulumi.export("netbios_name", dc.netbios_name)
pulumi.export("dns_server_address", dc.dns_server_address)

if cfg.get_bool("join"):
    # the domain's Administrator is the DC's former local Administrator, with the same password
    node = ClusterNode("hv01", ClusterNodeArgs(
        connection=connection("HV01", "HV01\\Administrator"),
        features=["Failover-Clustering"],
        domain_name=dc.domain_fqdn,
        domain_join_username=dc.netbios_name.apply(lambda n: f"{n}\\Administrator"),
        domain_join_password=passwords.apply(lambda p: p["DC01"]),
        credssp=False,
    ))
    pulumi.export("hv01_domain", node.domain)
