# ClusterNode: a Hyper-V host made ready to join a failover cluster (after its features and domain
# membership are in place, see cluster_node_prepare.ps1).
#   -Mode Get     report features, domain, CredSSP, the iSCSI initiator, iSCSI disks and the switch
#   -Mode Set     CredSSP server + client roles (delegating to this host's own name and FQDN, so
#                 FailoverCluster can use a loopback CredSSP session), MSiSCSI automatic and running,
#                 the target portal (rediscovered when a wanted target is not listed yet) and a
#                 persistent session to each target, sessions to PreviousTargetIqns no longer wanted
#                 disconnected, a rescan when a LUN is missing or smaller than DiskSizes says, new LUNs
#                 (RAW disks with the given serial numbers) online and writable, the external virtual switch
#   -Mode Remove  (with AttachStorage) take the targets' disks offline, disconnect the targets (and drop their persistent
#                 logins), remove the portal
#                 when nothing else uses it, remove the switch (the one with the recorded SwitchId),
#                 disable both CredSSP roles.
#                 Features and domain membership stay (cluster_node_prepare.ps1 -Mode Remove undoes them).
# AttachStorage $false: NodeStorage (node_storage.ps1) owns the iSCSI attachment; this script then
# neither connects nor logs off any target (sessions it made before are handed over, not dropped).
# The iSCSI part lives in lib/node_iscsi.ps1, shared with node_storage.ps1.
# Include: lib/node_iscsi.ps1
param(
    [string]$Mode = 'Get',
    [string[]]$Features = @(),
    [bool]$EnableCredSSP = $true,
    [string]$TargetPortalAddress = '',
    [string[]]$TargetIqns = @(),
    [string[]]$DiskSerialNumbers = @(),
    # the LUNs' sizes in bytes, in the order of DiskSerialNumbers (empty: not checked)
    [long[]]$DiskSizes = @(),
    # the targets this resource connected last time: the only sessions it may disconnect
    [string[]]$PreviousTargetIqns = @(),
    [string]$SwitchName = '',
    [string]$SwitchAdapter = '',
    [string]$SwitchId = '',
    [bool]$AttachStorage = $true,
    [int]$DiskWaitSeconds = 30
)

function Get-CredSSPState {
    # Get-WSManCredSSP prints two sentences: the client role (with its delegate list) and the server role
    $text = @(Get-WSManCredSSP) -join "`n"
    $client = $text -match 'allow delegating fresh credentials to the following target'
    $server = ($text -match 'is configured to receive credentials') -and -not ($text -match 'is not configured to receive credentials')
    $delegates = @()
    if ($client) {
        $list = ($text -split 'following target\(s\):')[1]
        $list = ($list -split "`n")[0]
        $delegates = @($list -split ',' | ForEach-Object { $_.Trim() } | Where-Object { $_ -ne '' })
    }
    [pscustomobject]@{ Server = [bool]$server; Client = [bool]$client; Delegates = @($delegates) }
}

function Get-NodeState {
    param([string[]]$Changes = @())
    $cs = Get-CimInstance -ClassName Win32_ComputerSystem
    $os = Get-CimInstance -ClassName Win32_OperatingSystem
    $name = [string]$env:COMPUTERNAME
    $domain = $null
    $fqdn = $name.ToLower()
    if ($cs.PartOfDomain) {
        $domain = [string]$cs.Domain
        $fqdn = ($name + '.' + $domain).ToLower()
    }
    $featureStates = @()
    if (@($Features).Count -gt 0) {
        $featureStates = @(Get-WindowsFeature -Name $Features | ForEach-Object {
            [pscustomobject]@{ Name = [string]$_.Name; Installed = [bool]$_.Installed; InstallState = [string]$_.InstallState } })
    }
    $iscsi = Get-IscsiAttachment
    $switch = $null
    if ($SwitchName -ne '' -and [bool](Get-WindowsFeature -Name Hyper-V-PowerShell).Installed) {
        # The switch this resource made is found by the Id it recorded; by exact name (never as a
        # wildcard) only before it recorded one.
        $sw = $null
        if ($SwitchId -ne '') { $sw = Get-VMSwitch | Where-Object { [string]$_.Id -eq $SwitchId } | Select-Object -First 1 }
        if ($null -eq $sw -and $SwitchId -eq '') { $sw = Get-VMSwitch | Where-Object { $_.Name -eq $SwitchName } | Select-Object -First 1 }
        if ($null -ne $sw) {
            $adapterName = $null
            if ([string]$sw.NetAdapterInterfaceDescription -ne '') {
                $nic = Get-NetAdapter | Where-Object { $_.InterfaceDescription -eq $sw.NetAdapterInterfaceDescription } | Select-Object -First 1
                if ($null -ne $nic) { $adapterName = [string]$nic.Name }
            }
            $switch = [pscustomobject]@{
                Id                = [string]$sw.Id
                Name              = [string]$sw.Name
                SwitchType        = [string]$sw.SwitchType
                NetAdapterName    = $adapterName
                AllowManagementOS = [bool]$sw.AllowManagementOS
            }
        }
    }
    [pscustomobject]@{
        ComputerName   = $name
        Domain         = $domain
        Fqdn           = $fqdn
        LastBootUpTime = $os.LastBootUpTime.ToUniversalTime().ToString('o')
        Features       = @($featureStates)
        CredSSP        = Get-CredSSPState
        MSiSCSI        = $iscsi.MSiSCSI
        InitiatorIqn   = $iscsi.InitiatorIqn
        Portals        = @($iscsi.Portals)
        Sessions       = @($iscsi.Sessions)
        Disks          = @($iscsi.Disks)
        Switch         = $switch
        Changes        = @($Changes)
    }
}

if ($Mode -eq 'Get') {
    Get-NodeState
}
elseif ($Mode -eq 'Set') {
    $changes = @()
    $state = Get-NodeState

    if ($EnableCredSSP) {
        if (-not $state.CredSSP.Server) {
            Enable-WSManCredSSP -Role Server -Force | Out-Null
            $changes += 'CredSSP server role'
        }
        $wanted = @($state.Fqdn, $state.ComputerName.ToLower()) | Select-Object -Unique
        $missing = @($wanted | Where-Object { $state.CredSSP.Delegates -notcontains ('wsman/' + $_) })
        if (-not $state.CredSSP.Client -or $missing.Count -gt 0) {
            Enable-WSManCredSSP -Role Client -DelegateComputer $wanted -Force | Out-Null
            $changes += 'CredSSP client role'
        }
    }

    if ($AttachStorage) {
        $attach = @{ PortalAddress = $TargetPortalAddress; TargetIqns = $TargetIqns; PreviousTargetIqns = $PreviousTargetIqns
                     Serials = $DiskSerialNumbers; Sizes = $DiskSizes; DiskWaitSeconds = $DiskWaitSeconds }
        $changes += @(Set-IscsiAttachment @attach)
    }

    if ($SwitchName -ne '') {
        $state = Get-NodeState
        $sw = $state.Switch
        if ($null -ne $sw -and ($sw.NetAdapterName -ne $SwitchAdapter -or $sw.SwitchType -ne 'External' -or $sw.Name -ne $SwitchName)) {
            # bound to another NIC, not external, or renamed in the program: rebuild it (a switch cannot
            # move between NICs); the one removed is ours, picked by its Id
            Get-VMSwitch | Where-Object { [string]$_.Id -eq $sw.Id } | Remove-VMSwitch -Force
            $changes += "removed switch $($sw.Name) on $($sw.NetAdapterName)"
            $sw = $null
        }
        if ($null -eq $sw) {
            $SwitchId = [string](New-VMSwitch -Name $SwitchName -NetAdapterName $SwitchAdapter -AllowManagementOS $true).Id
            $changes += "switch $SwitchName"
        }
    }
    Get-NodeState -Changes $changes
}
elseif ($Mode -eq 'Remove') {
    $changes = @()
    if ($AttachStorage) {
        $changes += @(Remove-IscsiAttachment -PortalAddress $TargetPortalAddress -TargetIqns $TargetIqns)
    }
    $state = Get-NodeState
    if ($null -ne $state.Switch) {
        # by the Id Get-NodeState found it with: a name would be read as a wildcard ('VMNet*')
        Get-VMSwitch | Where-Object { [string]$_.Id -eq $state.Switch.Id } | Remove-VMSwitch -Force
        $changes += "removed switch $($state.Switch.Name)"
    }
    if ($EnableCredSSP) {
        if ($state.CredSSP.Server) { Disable-WSManCredSSP -Role Server; $changes += 'CredSSP server role off' }
        if ($state.CredSSP.Client) { Disable-WSManCredSSP -Role Client; $changes += 'CredSSP client role off' }
    }
    Get-NodeState -Changes $changes
}
else {
    throw "cluster_node.ps1: unknown Mode '$Mode' (Get, Set or Remove)"
}
