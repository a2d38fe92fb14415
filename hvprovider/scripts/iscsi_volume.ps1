# IscsiVolume: one iSCSI virtual disk (a .vhdx) on this iSCSI Target Server, mapped to one target.
#   -Mode Get     report the disk and where it is mapped (Exists = $false when missing)
#   -Mode Set     create the disk (or adopt the one registered at Path, or import a leftover .vhdx
#                 file there), grow it to SizeBytes, map it to TargetName (at Lun when Lun >= 0) and
#                 remove mappings to other targets
#   -Mode Remove  remove every mapping of the disk, the disk, and the .vhdx file unless KeepFile,
#                 then each folder Set created for it (CreatedFolders) that is empty by then
# Shrinking is refused: iSCSI virtual disks only grow.
param(
    [string]$Mode = 'Get',
    [string]$Path,
    [long]$SizeBytes = 0,
    [string]$DiskType = 'Dynamic',
    [string]$TargetName = '',
    [int]$Lun = -1,
    [bool]$KeepFile = $false,
    [string[]]$CreatedFolders = @()
)

$FeatureName = 'FS-iSCSITarget-Server'

function Get-Mappings {
    # every (target, lun) this disk is mapped to
    $found = @()
    foreach ($t in @(Get-IscsiServerTarget)) {
        foreach ($m in @($t.LunMappings)) {
            if ($null -ne $m -and [string]$m.Path -eq $Path) {
                $found += [pscustomobject]@{ TargetName = [string]$t.TargetName; Lun = [int]$m.Lun }
            }
        }
    }
    $found
}

function New-Folders {
    # Creates the missing folders above the .vhdx, outermost first, and returns them (delete removes
    # exactly those, when empty). One that a parallel create (of another volume) made meanwhile is
    # listed too: it was made for these disks, and the last of them to go removes it.
    param([string]$Folder)
    $missing = @()
    while ($Folder -and -not (Test-Path -LiteralPath $Folder)) {
        $missing = @($Folder) + $missing
        $Folder = Split-Path -Path $Folder -Parent
    }
    $made = @()
    foreach ($dir in $missing) {
        try {
            New-Item -ItemType Directory -Path $dir | Out-Null
        }
        catch {
            if (-not (Test-Path -LiteralPath $dir)) { throw }
        }
        $made += $dir
    }
    $made
}

function Remove-EmptyFolders {
    # Innermost first, never -Recurse: a folder that holds anything (another disk, someone's file) stays.
    param([string[]]$Folders)
    $removed = @()
    for ($i = @($Folders).Count - 1; $i -ge 0; $i--) {
        $dir = @($Folders)[$i]
        # Another volume's delete may remove a shared folder at the same moment: a folder that is gone
        # (before or during the check) is not an error; any other failure is.
        try {
            if ((Test-Path -LiteralPath $dir -PathType Container) -and @(Get-ChildItem -LiteralPath $dir -Force -ErrorAction Stop).Count -eq 0) {
                Remove-Item -LiteralPath $dir -ErrorAction Stop
                $removed += $dir
            }
        }
        catch {
            if (Test-Path -LiteralPath $dir) { throw }
        }
    }
    $removed
}

function Get-VolumeState {
    param([bool]$Adopted = $false, [string[]]$Changes = @(), [string[]]$Folders = @())
    $installed = [bool](Get-WindowsFeature -Name $FeatureName).Installed
    $disk = $null
    $mappings = @()
    if ($installed) {
        $disk = Get-IscsiVirtualDisk | Where-Object { $_.Path -eq $Path } | Select-Object -First 1
        if ($null -ne $disk) { $mappings = @(Get-Mappings) }
    }
    $size = $null; $type = $null; $serial = $null; $status = $null
    if ($null -ne $disk) {
        $size = [long]$disk.Size
        $type = [string]$disk.DiskType
        $serial = [string]$disk.SerialNumber
        $status = [string]$disk.Status
    }
    $mappedTarget = $null; $mappedLun = $null
    foreach ($m in $mappings) {
        if ($m.TargetName -eq $TargetName) { $mappedTarget = $m.TargetName; $mappedLun = $m.Lun }
    }
    [pscustomobject]@{
        FeatureInstalled = $installed
        Exists           = ($null -ne $disk)
        FileExists       = [bool](Test-Path -LiteralPath $Path)
        Path             = $Path
        SizeBytes        = $size
        DiskType         = $type
        SerialNumber     = $serial
        Status           = $status
        Mappings         = @($mappings)
        TargetName       = $mappedTarget
        Lun              = $mappedLun
        Adopted          = $Adopted
        Changes          = @($Changes)
        CreatedFolders   = @($Folders)
    }
}

if ($Mode -eq 'Get') {
    Get-VolumeState
}
elseif ($Mode -eq 'Set') {
    $before = Get-VolumeState
    $changes = @()
    if (-not $before.FeatureInstalled) {
        Install-WindowsFeature -Name $FeatureName -IncludeManagementTools | Out-Null
        $changes += 'installed FS-iSCSITarget-Server'
    }
    $adopted = $before.Exists
    $created = @()
    if (-not $before.Exists) {
        if ($before.FileExists) {
            # a .vhdx left behind (e.g. deleted with keep_file): register it again instead of failing
            # (New-IscsiVirtualDisk refuses an existing file; Import-IscsiVirtualDisk takes it as it is)
            Import-IscsiVirtualDisk -Path $Path | Out-Null
            $changes += 'imported existing file'
            $adopted = $true
        }
        else {
            $created = @(New-Folders -Folder (Split-Path -Path $Path -Parent))
            try {
                if ($DiskType -eq 'Fixed') {
                    New-IscsiVirtualDisk -Path $Path -SizeBytes $SizeBytes -UseFixed | Out-Null
                }
                else {
                    New-IscsiVirtualDisk -Path $Path -SizeBytes $SizeBytes | Out-Null
                }
            }
            catch {
                # nothing is recorded when the create fails: take the folders made for it away again
                Remove-EmptyFolders -Folders $created | Out-Null
                throw
            }
            $changes += 'created disk'
        }
    }
    $now = Get-VolumeState
    if ($now.DiskType -ne $DiskType) {
        throw "The iSCSI virtual disk '$Path' exists as a $($now.DiskType) disk but disk_type is '$DiskType'. A disk cannot change type: set disk_type to '$($now.DiskType)' to keep it, or remove the disk."
    }
    if ($now.SizeBytes -gt $SizeBytes) {
        throw "The iSCSI virtual disk '$Path' is $($now.SizeBytes) bytes, larger than size_bytes $SizeBytes. Virtual disks cannot shrink: set size_bytes to at least $($now.SizeBytes)."
    }
    if ($now.SizeBytes -lt $SizeBytes) {
        Resize-IscsiVirtualDisk -Path $Path -SizeBytes $SizeBytes | Out-Null
        $changes += 'grew disk'
    }
    foreach ($m in @($now.Mappings)) {
        $wrongTarget = $m.TargetName -ne $TargetName
        $wrongLun = ($m.TargetName -eq $TargetName) -and ($Lun -ge 0) -and ($m.Lun -ne $Lun)
        if ($wrongTarget -or $wrongLun) {
            Remove-IscsiVirtualDiskTargetMapping -TargetName $m.TargetName -Path $Path
            $changes += "unmapped from $($m.TargetName)"
        }
    }
    $now = Get-VolumeState
    if ($null -eq $now.TargetName) {
        if ($Lun -ge 0) {
            Add-IscsiVirtualDiskTargetMapping -TargetName $TargetName -Path $Path -Lun $Lun
        }
        else {
            Add-IscsiVirtualDiskTargetMapping -TargetName $TargetName -Path $Path
        }
        $changes += "mapped to $TargetName"
    }
    Get-VolumeState -Adopted $adopted -Changes $changes -Folders $created
}
elseif ($Mode -eq 'Remove') {
    $before = Get-VolumeState
    $changes = @()
    if ($before.Exists) {
        foreach ($m in @($before.Mappings)) {
            Remove-IscsiVirtualDiskTargetMapping -TargetName $m.TargetName -Path $Path
            $changes += "unmapped from $($m.TargetName)"
        }
        Remove-IscsiVirtualDisk -Path $Path
        $changes += 'removed disk'
    }
    if (-not $KeepFile -and (Test-Path -LiteralPath $Path)) {
        Remove-Item -LiteralPath $Path -Force
        $changes += 'deleted file'
    }
    foreach ($dir in @(Remove-EmptyFolders -Folders $CreatedFolders)) { $changes += "removed folder $dir" }
    Get-VolumeState -Changes $changes
}
else {
    throw "iscsi_volume.ps1: unknown Mode '$Mode' (Get, Set or Remove)"
}
