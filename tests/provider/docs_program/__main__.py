"""A program written from README.md and docs/provider.md alone, as a new user would: storage on DC01 with
keyword arguments, the firewall rule it needs (after the target, as the docs say), and a script of the
user's own that consumes the volume's serial number (tests/provider/test_docs_program_e2e.py)."""
import pulumi

from hvprovider import ConnectionArgs, IscsiTarget, IscsiVolume, LabFirewall, PowerShellScript

cfg = pulumi.Config()
ep = cfg.require_object("dc01")
conn = ConnectionArgs(host=ep["host"], port=ep["port"], username="DC01\\Administrator",
                      password=cfg.require_secret("password"))
target = IscsiTarget("target", connection=conn, target_name="mylab",
                     initiator_ids=["DNSName:hv01.hyper.local", "DNSName:hv02.hyper.local"])
quorum = IscsiVolume("quorum", connection=conn, path="C:\\iSCSI\\my [lab]\\quorum.vhdx",
                     size_bytes="1GB", target_name=target.target_name)
fw = LabFirewall("fw", connection=conn, purposes=["winrm", "iscsi-target"],
                 opts=pulumi.ResourceOptions(depends_on=[target]))
note = PowerShellScript("note", connection=conn, create="param($Serial) \"serial is $Serial\"",
                        parameters={"Serial": quorum.serial_number})
pulumi.export("iqn", target.target_iqn)
pulumi.export("serial", quorum.serial_number)
pulumi.export("note", note.stdout)
pulumi.export("fw_changes", fw.last_changes)
