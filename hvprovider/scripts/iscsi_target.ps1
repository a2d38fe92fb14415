# IscsiTarget: one iSCSI Target Server target on this host.
#   -Mode Get     report the target (Exists = $false when it or the feature is missing)
#   -Mode Set     install FS-iSCSITarget-Server if missing, create the target or adopt an existing
#                 one of that name, then correct InitiatorIds and Description where they differ
#   -Mode Remove  remove the target (its LUN mappings go with it; the virtual disks stay)
# Returns one state record.
param(
    [string]$Mode = 'Get',
    [string]$TargetName,
    [string[]]$InitiatorIds = @(),
    [string]$Description = ''
)

$FeatureName = 'FS-iSCSITarget-Server'

function Get-TargetState {
    param([bool]$Adopted = $false, [string[]]$Changes = @())
    $installed = [bool](Get-WindowsFeature -Name $FeatureName).Installed
    $target = $null
    if ($installed) {
        $target = Get-IscsiServerTarget | Where-Object { $_.TargetName -eq $TargetName } | Select-Object -First 1
    }
    if ($null -eq $target) {
        return [pscustomobject]@{
            FeatureInstalled = $installed
            Exists           = $false
            TargetName       = $TargetName
            TargetIqn        = $null
            InitiatorIds     = @()
            Description      = $null
            Status           = $null
            LunMappings      = @()
            Adopted          = $Adopted
            Changes          = @($Changes)
        }
    }
    [pscustomobject]@{
        FeatureInstalled = $true
        Exists           = $true
        TargetName       = [string]$target.TargetName
        TargetIqn        = [string]$target.TargetIqn
        InitiatorIds     = @($target.InitiatorIds | ForEach-Object { [string]$_ })
        Description      = [string]$target.Description
        Status           = [string]$target.Status
        LunMappings      = @($target.LunMappings | ForEach-Object {
            [pscustomobject]@{ Path = [string]$_.Path; Lun = [int]$_.Lun } })
        Adopted          = $Adopted
        Changes          = @($Changes)
    }
}

function Test-SameSet {
    # Windows compares initiator ids case-insensitively and keeps its own order
    param([string[]]$Left, [string[]]$Right)
    $l = @($Left); $r = @($Right)
    if ($l.Count -ne $r.Count) { return $false }
    foreach ($x in $l) { if ($r -notcontains $x) { return $false } }
    return $true
}

if ($Mode -eq 'Get') {
    Get-TargetState
}
elseif ($Mode -eq 'Set') {
    $before = Get-TargetState
    $changes = @()
    if (-not $before.FeatureInstalled) {
        Install-WindowsFeature -Name $FeatureName -IncludeManagementTools | Out-Null
        $changes += 'installed FS-iSCSITarget-Server'
    }
    if (-not $before.Exists) {
        New-IscsiServerTarget -TargetName $TargetName -InitiatorIds $InitiatorIds | Out-Null
        $changes += 'created target'
    }
    $now = Get-TargetState
    if (-not (Test-SameSet -Left $now.InitiatorIds -Right $InitiatorIds)) {
        Set-IscsiServerTarget -TargetName $TargetName -InitiatorIds $InitiatorIds
        $changes += 'initiator ids'
    }
    if ([string]$now.Description -ne $Description) {
        Set-IscsiServerTarget -TargetName $TargetName -Description $Description
        $changes += 'description'
    }
    Get-TargetState -Adopted $before.Exists -Changes $changes
}
elseif ($Mode -eq 'Remove') {
    $before = Get-TargetState
    $changes = @()
    if ($before.Exists) {
        Remove-IscsiServerTarget -TargetName $TargetName
        $changes += 'removed target'
    }
    Get-TargetState -Changes $changes
}
else {
    throw "iscsi_target.ps1: unknown Mode '$Mode' (Get, Set or Remove)"
}
