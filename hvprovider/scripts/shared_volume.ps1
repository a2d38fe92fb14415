# SharedVolume: an iSCSI LUN (found by serial number) as a Cluster Shared Volume.
#
# Runs on one cluster node. Every cmdlet here talks to the local disk stack or the local cluster
# service, so no delegable credential is needed (unlike New-Cluster; see failover_cluster.ps1).
#
# Mode Get    : where the disk is (not clustered / cluster disk / CSV) and the CSV's real mount path
# Mode Set    : initialize and format once, add as cluster disk, add to Cluster Shared Volumes
# Mode Remove : take it out of CSV and out of the cluster; the data on the LUN stays (missing = success)
param(
    [string]$Mode = 'Get',
    [string]$ClusterName,
    [string]$DiskSerial,
    [string]$Label = 'CSV',
    [int]$DiskWaitSeconds = 300
)

# LUN numbers change across reboots and differ per node; serial numbers do not.
function Find-DiskBySerial {
    param($Serial)
    return Get-Disk | Where-Object { $_.SerialNumber -eq $Serial } | Select-Object -First 1
}

# A Physical Disk resource's disk GUID (GPT) or signature (MBR) ties it to a Get-Disk object.
function Get-DiskIdentity {
    param($Resource)
    # A ClusterSharedVolume object pipes into Get-ClusterParameter on Windows; the resource by name always does.
    $params = @()
    try { $params = @($Resource | Get-ClusterParameter -Name @('DiskIdGuid', 'DiskSignature') -ErrorAction SilentlyContinue) } catch { }
    if ($params.Count -eq 0) {
        # (a resource removed meanwhile, e.g. by a parallel delete, simply matches nothing)
        try { $params = @(Get-ClusterResource -Name ([string]$Resource.Name) | Get-ClusterParameter -Name @('DiskIdGuid', 'DiskSignature')) } catch { }
    }
    $guid = ''
    $signature = 0
    foreach ($param in $params) {
        if ($param.Name -eq 'DiskIdGuid') { $guid = ([string]$param.Value) -replace '[{}]', '' }
        if ($param.Name -eq 'DiskSignature') { $signature = [long]$param.Value }
    }
    return [pscustomobject]@{ Guid = $guid; Signature = $signature }
}

function Test-ResourceIsDisk {
    param($Resource, $Disk)
    $identity = Get-DiskIdentity -Resource $Resource
    if ($identity.Guid -and $Disk.Guid) {
        return $identity.Guid -eq (([string]$Disk.Guid) -replace '[{}]', '')
    }
    if ($identity.Signature -and $Disk.Signature) {
        return $identity.Signature -eq [long]$Disk.Signature
    }
    return $false
}

# This disk in Get-ClusterAvailableDisk (which lists only disks every node sees), matched by its
# GPT disk id or MBR signature.
function Get-AvailableDisk {
    param($Disk)
    $guid = ([string]$Disk.Guid) -replace '[{}]', ''
    return @(Get-ClusterAvailableDisk -Disk $Disk | Where-Object {
        ($guid -and ((([string]$_.Id) -replace '[{}]', '') -eq $guid)) -or ((-not $guid) -and ([string]$_.Id -eq [string]$Disk.Signature))
    })
}

# Placement: Absent (not in the cluster), ClusterDisk, ClusterSharedVolume, or NoCluster (this node
# is not a node of that cluster: Set refuses with Problem, Get and Remove see no CSV).
function Get-State {
    $state = [pscustomobject]@{
        Exists = $false; Placement = 'Absent'; DiskVisible = $false; ClusterDiskName = ''
        Path = ''; SizeBytes = 0; FreeBytes = 0; Label = ''; OwnerNode = ''; Problem = ''
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
        $deadline = (Get-Date).AddSeconds($DiskWaitSeconds)
        $disk = Find-DiskBySerial -Serial $DiskSerial
        while ($null -eq $disk) {
            if ((Get-Date) -gt $deadline) {
                throw "No disk with serial number '$DiskSerial' is visible on $env:COMPUTERNAME after $DiskWaitSeconds s: check that the node is connected to the iSCSI target and that the LUN is mapped to it."
            }
            Start-Sleep -Seconds 5
            Update-HostStorageCache
            $disk = Find-DiskBySerial -Serial $DiskSerial
        }
        # Initialize and format once: a disk that already carries a data partition is left as it is.
        if ($disk.IsOffline) { Set-Disk -UniqueId $disk.UniqueId -IsOffline $false }
        if ($disk.IsReadOnly) { Set-Disk -UniqueId $disk.UniqueId -IsReadOnly $false }
        $disk = Find-DiskBySerial -Serial $DiskSerial
        if ([string]$disk.PartitionStyle -eq 'RAW') { Initialize-Disk -UniqueId $disk.UniqueId -PartitionStyle GPT }
        $data = @()
        try { $data = @(Get-Partition -DiskNumber $disk.Number -ErrorAction SilentlyContinue | Where-Object { [string]$_.Type -ne 'Reserved' }) } catch { }
        if ($data.Count -eq 0) {
            New-Partition -DiskNumber $disk.Number -UseMaximumSize | Format-Volume -FileSystem NTFS -NewFileSystemLabel $Label -Confirm:$false | Out-Null
        }
        $disk = Find-DiskBySerial -Serial $DiskSerial
        # Get-ClusterAvailableDisk lists a disk only once every node sees it.
        $available = @(Get-AvailableDisk -Disk $disk)
        while ($available.Count -eq 0) {
            if ((Get-Date) -gt $deadline) {
                throw "The disk with serial number '$DiskSerial' is not visible on every node of cluster '$ClusterName' after $DiskWaitSeconds s: connect every node to the iSCSI target, then run pulumi up again."
            }
            Start-Sleep -Seconds 5
            $available = @(Get-AvailableDisk -Disk $disk)
        }
        $available[0] | Add-ClusterDisk | Out-Null
        $state = Get-State
    }
    if ($state.Placement -eq 'ClusterDisk') {
        Add-ClusterSharedVolume -Name $state.ClusterDiskName | Out-Null
        $state = Get-State
    }
}
elseif ($Mode -eq 'Remove') {
    if ($state.Placement -eq 'ClusterSharedVolume') {
        Remove-ClusterSharedVolume -Name $state.ClusterDiskName | Out-Null
    }
    if (@('ClusterDisk', 'ClusterSharedVolume') -contains $state.Placement) {
        Remove-ClusterResource -Name $state.ClusterDiskName -Force
    }
    $state = Get-State
}
$state
