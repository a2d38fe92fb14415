# SharedVolume: an iSCSI LUN (found by serial number) as a Cluster Shared Volume.
#
# Runs on one cluster node. Every cmdlet here talks to the local disk stack or the local cluster
# service, so no delegable credential is needed (unlike New-Cluster; see failover_cluster.ps1).
#
# Mode Get    : where the disk is (not clustered / cluster disk / CSV) and the CSV's real mount path
# Mode Set    : initialize and format once, add as cluster disk, add to Cluster Shared Volumes; when
#               the LUN grew (DiskSizeBytes), rescan and extend the CSV's partition on its coordinator
# Mode Remove : take it out of CSV and out of the cluster; the data on the LUN stays (missing = success)
#
# Include: lib/cluster_disks.ps1
param(
    [string]$Mode = 'Get',
    [string]$ClusterName,
    [string]$DiskSerial,
    [string]$Label = 'CSV',
    [int]$DiskWaitSeconds = 300,
    # the LUN's size (IscsiVolume.size_bytes); 0 = do not grow
    [long]$DiskSizeBytes = 0
)

# Placement: Absent (not in the cluster), ClusterDisk, ClusterSharedVolume, or NoCluster (this node
# is not a node of that cluster: Set refuses with Problem, Get and Remove see no CSV).
function Get-State {
    $state = [pscustomobject]@{
        Exists = $false; Placement = 'Absent'; DiskVisible = $false; ClusterDiskName = ''
        Path = ''; SizeBytes = 0; FreeBytes = 0; Label = ''; OwnerNode = ''; Problem = ''
        DiskSizeBytes = 0; GrowOnNode = ''
    }
    $cluster = $null
    try { $cluster = Get-Cluster -ErrorAction SilentlyContinue } catch { }
    if ($null -eq $cluster) {
        $state.Placement = 'NoCluster'
        $state.Problem = "$env:COMPUTERNAME is not a member of a failover cluster: connect to a node of cluster '$ClusterName'."
        return $state
    }
    if ([string]$cluster.Name -ne $ClusterName) {
        $state.Placement = 'NoCluster'
        $state.Problem = "$env:COMPUTERNAME belongs to cluster '$($cluster.Name)', not '$ClusterName': connect to a node of cluster '$ClusterName'."
        return $state
    }
    $disk = Find-DiskBySerial -Serial $DiskSerial
    if ($null -eq $disk) { return $state }
    $state.DiskVisible = $true
    $state.SizeBytes = [long]$disk.Size
    $state.DiskSizeBytes = [long]$disk.Size
    foreach ($csv in @(Get-ClusterSharedVolume)) {
        if (Test-ResourceIsDisk -Resource $csv -Disk $disk) {
            $info = @($csv.SharedVolumeInfo)[0]
            $state.Exists = $true
            $state.Placement = 'ClusterSharedVolume'
            $state.ClusterDiskName = [string]$csv.Name
            $state.OwnerNode = [string]$csv.OwnerNode.Name
            $state.Path = [string]$info.FriendlyVolumeName
            $state.SizeBytes = [long]$info.Partition.Size
            $state.FreeBytes = [long]$info.Partition.FreeSpace
            $state.Label = Get-VolumeLabel -Disk $disk
            return $state
        }
    }
    foreach ($resource in @(Get-ClusterResource | Where-Object { $_.ResourceType.Name -eq 'Physical Disk' })) {
        if (Test-ResourceIsDisk -Resource $resource -Disk $disk) {
            $state.Placement = 'ClusterDisk'
            $state.ClusterDiskName = [string]$resource.Name
            $state.OwnerNode = [string]$resource.OwnerNode.Name
            break
        }
    }
    $state.Label = Get-VolumeLabel -Disk $disk
    return $state
}

# Grow in place: a LUN grown on the target reaches this node only with a rescan, and its partition
# (with the NTFS file system on it) only with Resize-Partition. A CSV's partition is resized by its
# coordinator node (the CSV's owner): on another node this returns the owner's name and changes nothing.
function Expand-SharedVolume {
    param($State)
    if ([string]$State.OwnerNode -ne [string]$env:COMPUTERNAME) { return [string]$State.OwnerNode }
    $disk = Find-DiskBySerial -Serial $DiskSerial
    if ([long]$disk.Size -lt $DiskSizeBytes) {
        Update-HostStorageCache
        $disk = Find-DiskBySerial -Serial $DiskSerial
    }
    if ([long]$disk.Size -lt $DiskSizeBytes) {
        throw "The LUN with serial number '$DiskSerial' is $($disk.Size) bytes on $env:COMPUTERNAME after a rescan, not $DiskSizeBytes: grow the IscsiVolume first (its size_bytes), then run pulumi up again."
    }
    $part = Get-Partition -DiskNumber $disk.Number | Where-Object { [string]$_.Type -ne 'Reserved' } |
        Sort-Object -Property Size -Descending | Select-Object -First 1
    if ($null -eq $part) { return '' }
    $supported = Get-PartitionSupportedSize -DiskNumber $disk.Number -PartitionNumber $part.PartitionNumber
    # less than 1 MB to gain is alignment slack, not growth
    if ([long]$supported.SizeMax - [long]$part.Size -ge 1MB) {
        Resize-Partition -DiskNumber $disk.Number -PartitionNumber $part.PartitionNumber -Size $supported.SizeMax
    }
    return ''
}

function Get-VolumeLabel {
    param($Disk)
    $volume = $null
    try { $volume = Get-Partition -DiskNumber $Disk.Number -ErrorAction SilentlyContinue | Get-Volume -ErrorAction SilentlyContinue | Select-Object -First 1 } catch { }
    if ($volume) { return [string]$volume.FileSystemLabel }
    return ''
}

$state = Get-State
if ($Mode -eq 'Set') {
    if ($state.Placement -eq 'NoCluster') { throw $state.Problem }
    if ($state.Placement -eq 'Absent') {
        # Initialize and format once (a disk that already carries a data partition is left as it
        # is), then add it as a cluster disk once every node sees it.
        Add-SharedDisk -Serial $DiskSerial -Label $Label -ClusterName $ClusterName -WaitSeconds $DiskWaitSeconds | Out-Null
        $state = Get-State
    }
    if ($state.Placement -eq 'ClusterDisk') {
        Add-ClusterSharedVolume -Name $state.ClusterDiskName | Out-Null
        $state = Get-State
    }
    # grown: the LUN looks smaller here than DiskSizeBytes, or the partition does not fill the LUN
    $grown = ($state.DiskSizeBytes -lt $DiskSizeBytes) -or ($state.SizeBytes -lt $state.DiskSizeBytes - 32MB)
    if ($state.Placement -eq 'ClusterSharedVolume' -and $DiskSizeBytes -gt 0 -and $grown) {
        $owner = Expand-SharedVolume -State $state
        $state = Get-State
        $state.GrowOnNode = $owner
    }
}
elseif ($Mode -eq 'Remove') {
    # The objects Get-State found by serial number, looked up by their exact name and piped: a name
    # passed to -Name could be read as a pattern.
    if ($state.Placement -eq 'ClusterSharedVolume') {
        Get-ClusterSharedVolume | Where-Object { [string]$_.Name -eq $state.ClusterDiskName } | Remove-ClusterSharedVolume -Confirm:$false | Out-Null
    }
    if (@('ClusterDisk', 'ClusterSharedVolume') -contains $state.Placement) {
        Get-ClusterResource | Where-Object { [string]$_.Name -eq $state.ClusterDiskName } | Remove-ClusterResource -Force
    }
    $state = Get-State
}
$state
