"""The seed's lab as one Pulumi program, from stack config: a domain controller that is also the
iSCSI target, two Hyper-V nodes, a failover cluster with a disk witness, a CSV and an HA VM.

Stack config (stacks/Pulumi.<stack>.yaml; see stacks/Pulumi.example.yaml for every key):
    lab                  the lab's shape (hosts, connections without passwords, domain, cluster, VM)
    domainPassword       secret: the domain account's password (joins the nodes, runs the cluster cmdlets)
    hostPasswords        secret: JSON object {"<host name>": "<password of its WinRM connection>"}

`make lab` runs this against hvsim with the `hvsim` stack (tools/lab.sh).
"""
import json

import pulumi

from hvprovider.lab import ClusterLab, ClusterLabConfig

config = pulumi.Config()
domain_password = config.require_secret("domainPassword")
# One secret holding every host's connection password; the plain values never leave secrets.
host_passwords = config.require_secret("hostPasswords").apply(json.loads)

# from_dict checks every key and value of the lab's shape strictly before any resource exists and
# names what is wrong by its key path (lab.nodes[1].name), as an error without a traceback.
# dsrmPassword: the new forest's Directory Services Restore Mode password (only with lab.domainController)
lab = ClusterLab("seed", ClusterLabConfig.from_dict(config.require_object("lab"), host_passwords, domain_password,
                                                   config.get_secret("dsrmPassword")))

pulumi.export("cluster_fqdn", lab.cluster_fqdn)
pulumi.export("csv_path", lab.csv_path)
pulumi.export("vm_owner_node", lab.vm_owner_node)
pulumi.export("target_iqn", lab.target_iqn)
pulumi.export("validation_summary", lab.validation_summary)
