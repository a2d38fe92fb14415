"""One LabMachine on a Hyper-V host, and a PowerShellScript that runs on the machine through its
machine_connection (written from docs/provider.md, "LabMachine")."""
import pulumi

from hvprovider import ConnectionArgs, LabMachine, PowerShellScript

config = pulumi.Config()
host = config.require_object("host")
machine = config.require_object("machine")

srv = LabMachine("srv01", connection=ConnectionArgs(host=host["host"], port=host["port"],
                                                   username=host["username"],
                                                   password=config.require_secret("hostPassword")),
                 name=machine["name"], image_path=machine["image"], folder="C:\\Lab",
                 disk_mode=machine.get("diskMode", "differencing"),
                 administrator_password=config.require_secret("machinePassword"),
                 memory_bytes=machine.get("memory", "2GB"), time_zone="W. Europe Standard Time",
                 network_adapters=[{"switch": machine["switch"], "ip_address": machine["address"],
                                    "name": "Management"}])

hello = PowerShellScript("whoami", connection=srv.machine_connection,
                         create="Write-Output \"$env:COMPUTERNAME $((Get-TimeZone).Id)\"")

pulumi.export("vm_id", srv.vm_id)
pulumi.export("hello", hello.stdout)
pulumi.export("changes", srv.last_changes)
