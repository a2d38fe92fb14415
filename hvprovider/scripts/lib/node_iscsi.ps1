# Shared by cluster_node.ps1 (a ClusterNode that attaches its own storage) and node_storage.ps1
# (NodeStorage, the attachment as a resource of its own): a node's iSCSI initiator side, i.e. the
# MSiSCSI service, the target portal, persistent sessions to the wanted targets and their LUNs.
#
# A script lists this file in a header line "# Include: lib/node_iscsi.ps1"; bootstrap.ps1
# dot-sources it before the script runs.
# Disks are found by SerialNumber / UniqueId, never by Number (numbers change across restarts).

# The initiator side as it is now: service, initiator IQN, portals, sessions, iSCSI disks.
function Get-IscsiAttachment {
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
    [pscustomobject]@{
        MSiSCSI      = [pscustomobject]@{ Status = [string]$svc.Status; StartType = [string]$svc.StartType }
        InitiatorIqn = $initiatorIqn
        Portals      = @($portals)
        Sessions     = @($sessions)
        Disks        = @($disks)
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

# True when a wanted LUN is not visible or looks smaller than Sizes says (a grown LUN keeps its
# old size on the initiator until a rescan).
function Test-RescanNeeded {
    param([string[]]$Serials, [long[]]$Sizes)
    for ($i = 0; $i -lt @($Serials).Count; $i++) {
        $disk = Find-NodeDisk -Serial $Serials[$i]
        if ($null -eq $disk) { return $true }
        if ($i -lt @($Sizes).Count -and [long]$disk.Size -lt [long]$Sizes[$i]) { return $true }
    }
    return $false
}

# Make the initiator side match: MSiSCSI automatic and running, the portal (rediscovered when a
# wanted target is not listed yet), a persistent session to each of TargetIqns, sessions to
# PreviousTargetIqns no longer wanted logged off (the only sessions this may touch), a rescan when a
# LUN is missing or smaller than Sizes says, new (RAW) LUNs online and writable. Emits what it changed.
function Set-IscsiAttachment {
    param([string]$PortalAddress, [string[]]$TargetIqns, [string[]]$PreviousTargetIqns,
          [string[]]$Serials, [long[]]$Sizes, [int]$DiskWaitSeconds)
    $changes = @()
    $svc = Get-Service -Name MSiSCSI
    if ([string]$svc.StartType -ne 'Automatic') {
        Set-Service -Name MSiSCSI -StartupType Automatic
        $changes += 'MSiSCSI automatic'
    }
    if ([string]$svc.Status -ne 'Running') {
        Start-Service -Name MSiSCSI
        $changes += 'MSiSCSI started'
    }
    $state = Get-IscsiAttachment

    if (@($TargetIqns).Count -gt 0) {
        if ($state.Portals -notcontains $PortalAddress) {
            New-IscsiTargetPortal -TargetPortalAddress $PortalAddress | Out-Null
            $changes += "portal $PortalAddress"
        }
        $connectedAny = $false
        $rediscovered = $false
        foreach ($iqn in $TargetIqns) {
            if (-not (Test-Connected -State $state -Iqn $iqn)) {
                # The initiator lists only what the portal reported at its last discovery: a target
                # created (or opened to this node) since then needs Update-IscsiTargetPortal first.
                $listed = @(Get-IscsiTarget | Where-Object { [string]$_.NodeAddress -eq $iqn })
                if ($listed.Count -eq 0 -and -not $rediscovered) {
                    Update-IscsiTargetPortal -TargetPortalAddress $PortalAddress | Out-Null
                    $changes += "rediscovered portal $PortalAddress"
                    $rediscovered = $true
                }
                Connect-IscsiTarget -NodeAddress $iqn -TargetPortalAddress $PortalAddress -IsPersistent $true | Out-Null
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

    # Sessions made to targets no longer wanted (a renamed or replaced target, a target dropped from
    # TargetIqns); sessions not listed in PreviousTargetIqns are never touched.
    foreach ($old in $PreviousTargetIqns) {
        if (@($TargetIqns | Where-Object { $_ -eq $old }).Count -gt 0) { continue }
        if (@($state.Sessions | Where-Object { $_.TargetNodeAddress -eq $old }).Count -eq 0) { continue }
        $changes += @(Disconnect-Target -State $state -Iqn $old)
        $state = Get-IscsiAttachment
    }

    # New LUNs on a connected target and grown LUNs reach this host only with a rescan.
    if (Test-RescanNeeded -Serials $Serials -Sizes $Sizes) {
        Update-HostStorageCache
        $changes += 'rescanned disks'
    }

    # LUNs arrive offline (and read-only) on each node; bring new (RAW) ones online and writable.
    # An initialized disk belongs to whoever initialized it (the cluster): left alone.
    $index = -1
    foreach ($serial in $Serials) {
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
        if ($index -lt @($Sizes).Count -and [long]$disk.Size -lt [long]$Sizes[$index]) {
            throw "The disk with serial number '$serial' is $($disk.Size) bytes on $env:COMPUTERNAME after a rescan, not $($Sizes[$index]) as disk_sizes says. Check that the IscsiVolume was grown (size_bytes) before this node."
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
    $changes
}

# Undo the attachment: take the listed targets' disks offline, log them off (dropping their
# persistent logins), remove the portal when no session is left. Emits what it changed.
function Remove-IscsiAttachment {
    param([string]$PortalAddress, [string[]]$TargetIqns)
    $changes = @()
    $state = Get-IscsiAttachment
    foreach ($iqn in $TargetIqns) {
        if (@($state.Sessions | Where-Object { $_.TargetNodeAddress -eq $iqn }).Count -gt 0) {
            $changes += @(Disconnect-Target -State $state -Iqn $iqn)
        }
    }
    $state = Get-IscsiAttachment
    if ($PortalAddress -ne '' -and $state.Portals -contains $PortalAddress) {
        $others = @($state.Sessions | Where-Object { $_.IsConnected })
        if ($others.Count -eq 0) {
            Remove-IscsiTargetPortal -TargetPortalAddress $PortalAddress -Confirm:$false
            $changes += "removed portal $PortalAddress"
        }
    }
    $changes
}
