# ClusterNode: a Hyper-V host made ready to join a failover cluster (after its features and domain
# membership are in place, see cluster_node_prepare.ps1).
#   -Mode Get     report features, domain, CredSSP, the iSCSI initiator, iSCSI disks and the switch
#   -Mode Set     CredSSP server + client roles (delegating to this host's own name and FQDN, so
#                 FailoverCluster can use a loopback CredSSP session), MSiSCSI automatic and running,
#                 the target portal (rediscovered when a wanted target is not listed yet) and a
#                 persistent session to each target, sessions to PreviousTargetIqns no longer wanted
#                 disconnected, a rescan when a LUN is missing or smaller than DiskSizes says, new LUNs
#                 (RAW disks with the given serial numbers) online and writable, the external virtual switch
#   -Mode Remove  take the targets' disks offline, disconnect the targets (and drop their persistent
#                 logins), remove the portal
#                 when nothing else uses it, remove the switch (the one with the recorded SwitchId),
#                 disable both CredSSP roles.
#                 Features and domain membership stay (cluster_node_prepare.ps1 -Mode Remove undoes them).
# Disks are found by SerialNumber / UniqueId, never by Number (numbers change across restarts).
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
    $svc = Get-Service -Name MSiSCSI
    $initiatorIqn = $null
    $portals = @()
    $sessions = @()
    if ([string]$svc.Status -eq 'Running') {
        $port = Get-InitiatorPort | Where-Object { [string]$_.NodeAddress -like 'iqn.*' } | Select-Object -First 1
        if ($null -ne $port) { $initiatorIqn = [string]$port.NodeAddress }
        $portals = @(Get-IscsiTargetPortal | ForEach-Object { [string]$_.TargetPortalAddress })
        $sessions = @(Get-IscsiSession | ForEach-Object {
            [pscustomobject]@{
                TargetNodeAddress = [string]$_.TargetNodeAddress
                SessionIdentifier = [string]$_.SessionIdentifier
                IsConnected       = [bool]$_.IsConnected
                IsPersistent      = [bool]$_.IsPersistent
            } })
    }
    $disks = @(Get-Disk | Where-Object { [string]$_.BusType -eq 'iSCSI' } | ForEach-Object {
        [pscustomobject]@{
            SerialNumber   = [string]$_.SerialNumber
            UniqueId       = [string]$_.UniqueId
            Number         = $_.Number
            Size           = [long]$_.Size
            IsOffline      = [bool]$_.IsOffline
            IsReadOnly     = [bool]$_.IsReadOnly
            PartitionStyle = [string]$_.PartitionStyle
        } })
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
        MSiSCSI        = [pscustomobject]@{ Status = [string]$svc.Status; StartType = [string]$svc.StartType }
        InitiatorIqn   = $initiatorIqn
        Portals        = @($portals)
        Sessions       = @($sessions)
        Disks          = @($disks)
        Switch         = $switch
        Changes        = @($Changes)
    }
}

function Test-Connected {
    param($State, [string]$Iqn)
    foreach ($s in @($State.Sessions)) {
        if ($s.TargetNodeAddress -eq $Iqn -and $s.IsConnected) { return $true }
    }
    return $false
}

# Log off one target we connected: its disks go offline first (Windows refuses to log off a session
# whose volume is mounted), then the persistent login is dropped and the session disconnected.
function Disconnect-Target {
    param($State, [string]$Iqn)
    $done = @()
    foreach ($session in @(Get-IscsiSession | Where-Object { $_.TargetNodeAddress -eq $Iqn })) {
        foreach ($disk in @($session | Get-Disk)) {
            if (-not $disk.IsOffline) {
                Set-Disk -UniqueId $disk.UniqueId -IsOffline $true
                $done += "disk $($disk.SerialNumber) offline"
            }
        }
    }
    foreach ($s in @($State.Sessions | Where-Object { $_.TargetNodeAddress -eq $Iqn })) {
        if ($s.IsPersistent) {
            Unregister-IscsiSession -SessionIdentifier $s.SessionIdentifier
        }
    }
    if (Test-Connected -State $State -Iqn $Iqn) {
        Disconnect-IscsiTarget -NodeAddress $Iqn -Confirm:$false
        $done += "disconnected $Iqn"
    }
    $done
}

# The disk with this serial number as this host sees it now (numbers change; serials do not).
function Find-NodeDisk {
    param([string]$Serial)
    Get-Disk | Where-Object { [string]$_.SerialNumber -eq $Serial } | Select-Object -First 1
}

# True when a wanted LUN is not visible or looks smaller than DiskSizes says (a grown LUN keeps its
# old size on the initiator until a rescan).
function Test-RescanNeeded {
    for ($i = 0; $i -lt @($DiskSerialNumbers).Count; $i++) {
        $disk = Find-NodeDisk -Serial $DiskSerialNumbers[$i]
        if ($null -eq $disk) { return $true }
        if ($i -lt @($DiskSizes).Count -and [long]$disk.Size -lt [long]$DiskSizes[$i]) { return $true }
    }
    return $false
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

    $svc = Get-Service -Name MSiSCSI
    if ([string]$svc.StartType -ne 'Automatic') {
        Set-Service -Name MSiSCSI -StartupType Automatic
        $changes += 'MSiSCSI automatic'
    }
    if ([string]$svc.Status -ne 'Running') {
        Start-Service -Name MSiSCSI
        $changes += 'MSiSCSI started'
    }
    $state = Get-NodeState

    if (@($TargetIqns).Count -gt 0) {
        if ($state.Portals -notcontains $TargetPortalAddress) {
            New-IscsiTargetPortal -TargetPortalAddress $TargetPortalAddress | Out-Null
            $changes += "portal $TargetPortalAddress"
        }
        $connectedAny = $false
        $rediscovered = $false
        foreach ($iqn in $TargetIqns) {
            if (-not (Test-Connected -State $state -Iqn $iqn)) {
                # The initiator lists only what the portal reported at its last discovery: a target
                # created (or opened to this node) since then needs Update-IscsiTargetPortal first.
                $listed = @(Get-IscsiTarget | Where-Object { [string]$_.NodeAddress -eq $iqn })
                if ($listed.Count -eq 0 -and -not $rediscovered) {
                    Update-IscsiTargetPortal -TargetPortalAddress $TargetPortalAddress | Out-Null
                    $changes += "rediscovered portal $TargetPortalAddress"
                    $rediscovered = $true
                }
                Connect-IscsiTarget -NodeAddress $iqn -TargetPortalAddress $TargetPortalAddress -IsPersistent $true | Out-Null
                $changes += "connected $iqn"
                $connectedAny = $true
            }
            else {
                foreach ($s in @($state.Sessions | Where-Object { $_.TargetNodeAddress -eq $iqn -and -not $_.IsPersistent })) {
                    Register-IscsiSession -SessionIdentifier $s.SessionIdentifier | Out-Null
                    $changes += "persistent $iqn"
                }
            }
        }
        if ($connectedAny) { Update-HostStorageCache }
    }

    # Sessions this resource made to targets it no longer wants (a renamed or replaced target, a
    # target dropped from target_iqns); sessions it did not make are never touched.
    foreach ($old in $PreviousTargetIqns) {
        if (@($TargetIqns | Where-Object { $_ -eq $old }).Count -gt 0) { continue }
        if (@($state.Sessions | Where-Object { $_.TargetNodeAddress -eq $old }).Count -eq 0) { continue }
        $changes += @(Disconnect-Target -State $state -Iqn $old)
        $state = Get-NodeState
    }

    # New LUNs on a connected target and grown LUNs reach this host only with a rescan.
    if (Test-RescanNeeded) {
        Update-HostStorageCache
        $changes += 'rescanned disks'
    }

    # LUNs arrive offline (and read-only) on each node; bring new (RAW) ones online and writable.
    # An initialized disk belongs to whoever initialized it (the cluster): left alone.
    $index = -1
    foreach ($serial in $DiskSerialNumbers) {
        $index += 1
        $disk = $null
        $waited = 0
        while ($true) {
            $disk = Find-NodeDisk -Serial $serial
            if ($null -ne $disk -or $waited -ge $DiskWaitSeconds) { break }
            Start-Sleep -Seconds 1
            Update-HostStorageCache
            $waited += 1
        }
        if ($null -eq $disk) {
            throw "No disk with serial number '$serial' is visible on $env:COMPUTERNAME after $DiskWaitSeconds s. Check that the IscsiVolume is mapped to one of target_iqns and that the target's initiator_ids include this node."
        }
        if ($index -lt @($DiskSizes).Count -and [long]$disk.Size -lt [long]$DiskSizes[$index]) {
            throw "The disk with serial number '$serial' is $($disk.Size) bytes on $env:COMPUTERNAME after a rescan, not $($DiskSizes[$index]) as disk_sizes says. Check that the IscsiVolume was grown (size_bytes) before this node."
        }
        if ([string]$disk.PartitionStyle -eq 'RAW') {
            if ($disk.IsOffline) {
                Set-Disk -UniqueId $disk.UniqueId -IsOffline $false
                $changes += "disk $serial online"
            }
            if ($disk.IsReadOnly) {
                Set-Disk -UniqueId $disk.UniqueId -IsReadOnly $false
                $changes += "disk $serial writable"
            }
        }
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
    $state = Get-NodeState
    foreach ($iqn in $TargetIqns) {
        if (@($state.Sessions | Where-Object { $_.TargetNodeAddress -eq $iqn }).Count -gt 0) {
            $changes += @(Disconnect-Target -State $state -Iqn $iqn)
        }
    }
    $state = Get-NodeState
    if ($TargetPortalAddress -ne '' -and $state.Portals -contains $TargetPortalAddress) {
        $others = @($state.Sessions | Where-Object { $_.IsConnected })
        if ($others.Count -eq 0) {
            Remove-IscsiTargetPortal -TargetPortalAddress $TargetPortalAddress -Confirm:$false
            $changes += "removed portal $TargetPortalAddress"
        }
    }
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
