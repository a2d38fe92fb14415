# Drill: the seed's three tests, one step at a time (hvprovider/drill.py drives it; no resource uses it).
#   -Mode Observe  where the VM's role runs now: owner node, group state, VM state, and Hyper-V's
#                  uptime of the VM (seconds it has been running; a restarted VM starts again at 0)
#   -Mode Move     move the role to -Node by -MigrationType Live | Quick and observe before and after
# Moving a VM role contacts both nodes (a double hop), so the work runs in a loopback CredSSP session
# with the domain credential, as highly_available_vm.ps1 does. Returns one record.
param(
    [string]$Mode = 'Observe',
    [string]$Name,
    [string]$Node = '',
    [string]$MigrationType = 'Live',
    [string]$DomainUser,
    [string]$DomainPassword
)

$credential = New-Object System.Management.Automation.PSCredential($DomainUser, (ConvertTo-SecureString $DomainPassword -AsPlainText -Force))

$work = {
    param($Mode, $Name, $Node, $MigrationType)
    $ErrorActionPreference = 'Stop'

    function Get-View {
        $group = Get-ClusterGroup -Name $Name
        $owner = ([string]$group.OwnerNode).Split('.')[0].ToUpper()
        $vm = Get-VM -ComputerName $owner -Name $Name
        [pscustomobject]@{
            Time          = (Get-Date).ToUniversalTime().ToString('o')
            OwnerNode     = $owner
            GroupState    = [string]$group.State
            VMState       = [string]$vm.State
            UptimeSeconds = [double]$vm.Uptime.TotalSeconds
        }
    }

    $before = Get-View
    $after = $before
    if ($Mode -eq 'Move') {
        if ($MigrationType -eq 'Live' -or $MigrationType -eq 'Quick') {
            Move-ClusterVirtualMachineRole -Name $Name -Node $Node -MigrationType $MigrationType | Out-Null
        }
        else {
            throw "MigrationType '$MigrationType': the drill moves by Live or Quick migration."
        }
        $after = Get-View
    }
    ConvertTo-Json -Compress -InputObject ([pscustomobject]@{ Before = $before; After = $after })
}

$json = Invoke-Command -ComputerName $env:COMPUTERNAME -Credential $credential -Authentication Credssp -ScriptBlock $work -ArgumentList $Mode, $Name, $Node, $MigrationType
ConvertFrom-Json -InputObject ([string]$json)
