# Shared by failover_cluster.ps1 (the disk witness) and shared_volume.ps1 (the CSV): finding an iSCSI
# LUN by serial number and bringing it into the cluster as a Physical Disk resource.
#
# A script lists this file in a header line "# Include: lib/cluster_disks.ps1"; the transport sends
# its text along with the script and bootstrap.ps1 dot-sources it first, so these functions are
# defined before the script runs. A block run through Invoke-Command starts in a new session and must
# dot-source the text again: bootstrap.ps1 keeps it in $HvproviderLibraries.

# The disk with this serial as this node sees it (LUN numbers change across reboots and differ per
# node; serial numbers do not).
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

# The Physical Disk resource holding the LUN with this serial, or $null.
function Get-DiskResource {
    param($Serial)
    $disk = Find-DiskBySerial -Serial $Serial
    if ($null -eq $disk) { return $null }
    foreach ($resource in @(Get-ClusterResource | Where-Object { $_.ResourceType.Name -eq 'Physical Disk' })) {
        if (Test-ResourceIsDisk -Resource $resource -Disk $disk) { return $resource }
    }
    return $null
}

# Online, writable, GPT, one NTFS volume: done once, skipped when the disk already has a data partition.
function Initialize-SharedDisk {
    param($Disk, $Label)
    if ($Disk.IsOffline) { Set-Disk -UniqueId $Disk.UniqueId -IsOffline $false }
    if ($Disk.IsReadOnly) { Set-Disk -UniqueId $Disk.UniqueId -IsReadOnly $false }
    $Disk = Find-DiskBySerial -Serial $Disk.SerialNumber
    if ([string]$Disk.PartitionStyle -eq 'RAW') {
        Initialize-Disk -UniqueId $Disk.UniqueId -PartitionStyle GPT
    }
    $data = @()
    try { $data = @(Get-Partition -DiskNumber $Disk.Number -ErrorAction SilentlyContinue | Where-Object { [string]$_.Type -ne 'Reserved' }) } catch { }
    if ($data.Count -eq 0) {
        New-Partition -DiskNumber $Disk.Number -UseMaximumSize | Format-Volume -FileSystem NTFS -NewFileSystemLabel $Label -Confirm:$false | Out-Null
    }
    return Find-DiskBySerial -Serial $Disk.SerialNumber
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

# Bring the LUN into the cluster once this node and then every node sees it; returns its Physical
# Disk resource (the existing one when it is already in the cluster).
function Add-SharedDisk {
    param($Serial, $Label, $ClusterName, $WaitSeconds)
    $resource = Get-DiskResource -Serial $Serial
    if ($resource) { return $resource }
    $deadline = (Get-Date).AddSeconds($WaitSeconds)
    $disk = Find-DiskBySerial -Serial $Serial
    while ($null -eq $disk) {
        if ((Get-Date) -gt $deadline) {
            throw "No disk with serial number '$Serial' is visible on $env:COMPUTERNAME after $WaitSeconds s: check that the node's iSCSI session to the target is connected and that the LUN is mapped to it."
        }
        Start-Sleep -Seconds 5
        Update-HostStorageCache
        $disk = Find-DiskBySerial -Serial $Serial
    }
    $disk = Initialize-SharedDisk -Disk $disk -Label $Label
    $available = @(Get-AvailableDisk -Disk $disk)
    while ($available.Count -eq 0) {
        if ((Get-Date) -gt $deadline) {
            throw "The disk with serial number '$Serial' is not visible on every node of cluster '$ClusterName' after $WaitSeconds s (Get-ClusterAvailableDisk does not list it): connect every node to the iSCSI target and bring the LUN online, then run pulumi up again."
        }
        Start-Sleep -Seconds 5
        $available = @(Get-AvailableDisk -Disk $disk)
    }
    return ($available[0] | Add-ClusterDisk)
}
