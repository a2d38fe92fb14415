# NodeStorage: a cluster node's iSCSI attachment, apart from its preparation (ClusterNode), so that
# the node's features, domain join and restart need not wait for the target and its volumes.
#   -Mode Get     report the initiator side: MSiSCSI, initiator IQN, portals, sessions, iSCSI disks
#   -Mode Set     MSiSCSI automatic and running, the target portal (rediscovered when a wanted target is
#                 not listed yet), a persistent session to each of TargetIqns, sessions to
#                 PreviousTargetIqns no longer wanted logged off, a rescan when a LUN is missing or
#                 smaller than DiskSizes says, new LUNs (RAW disks with the given serial numbers)
#                 online and writable
#   -Mode Remove  take the targets' disks offline, log off the targets (and drop their persistent
#                 logins), remove the portal when no session is left
# Only the targets named in TargetIqns / PreviousTargetIqns (what the resource recorded) are touched.
# Include: lib/node_iscsi.ps1
param(
    [string]$Mode = 'Get',
    [string]$TargetPortalAddress = '',
    [string[]]$TargetIqns = @(),
    [string[]]$DiskSerialNumbers = @(),
    # the LUNs' sizes in bytes, in the order of DiskSerialNumbers (empty: not checked)
    [long[]]$DiskSizes = @(),
    # the targets this resource connected last time: the only sessions it may log off
    [string[]]$PreviousTargetIqns = @(),
    [int]$DiskWaitSeconds = 30
)

function Get-StorageState {
    param([string[]]$Changes = @())
    $iscsi = Get-IscsiAttachment
    [pscustomobject]@{
        ComputerName = [string]$env:COMPUTERNAME
        MSiSCSI      = $iscsi.MSiSCSI
        InitiatorIqn = $iscsi.InitiatorIqn
        Portals      = @($iscsi.Portals)
        Sessions     = @($iscsi.Sessions)
        Disks        = @($iscsi.Disks)
        Changes      = @($Changes)
    }
}

if ($Mode -eq 'Get') {
    Get-StorageState
}
elseif ($Mode -eq 'Set') {
    $attach = @{ PortalAddress = $TargetPortalAddress; TargetIqns = $TargetIqns; PreviousTargetIqns = $PreviousTargetIqns
                 Serials = $DiskSerialNumbers; Sizes = $DiskSizes; DiskWaitSeconds = $DiskWaitSeconds }
    $changes = @(Set-IscsiAttachment @attach)
    Get-StorageState -Changes $changes
}
elseif ($Mode -eq 'Remove') {
    $changes = @(Remove-IscsiAttachment -PortalAddress $TargetPortalAddress -TargetIqns $TargetIqns)
    Get-StorageState -Changes $changes
}
else {
    throw "node_storage.ps1: unknown Mode '$Mode' (Get, Set or Remove)"
}
