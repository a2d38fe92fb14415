# ManagementTools: the consoles and PowerShell modules an administrator runs the lab from (the seed's
# step 4: Failover Cluster Manager and the Hyper-V tools on the server), installed when missing.
#   -Mode Get     the install state of each feature
#   -Mode Set     install the ones that are not installed (with their parents; no restart: tools need none)
#   -Mode Remove  uninstall -Owned, the features this resource installed (exact names); the others stay
# Returns one state record.
param(
    [string]$Mode = 'Get',
    [string[]]$Features = @(),
    [string[]]$Owned = @()
)

function Get-ToolsState {
    param([string[]]$Installed = @(), [string[]]$Removed = @(), [bool]$RestartNeeded = $false)
    $names = @(@($Features) + @($Owned) | Select-Object -Unique)
    $states = @()
    if ($names.Count -gt 0) {
        $states = @(Get-WindowsFeature -Name $names | ForEach-Object {
            [pscustomobject]@{ Name = [string]$_.Name; InstallState = [string]$_.InstallState } })
    }
    [pscustomobject]@{
        Features      = $states
        Installed     = @($Installed)
        Removed       = @($Removed)
        RestartNeeded = $RestartNeeded
    }
}

$current = Get-ToolsState
if ($Mode -eq 'Get') { return $current }

if ($Mode -eq 'Remove') {
    $present = @($current.Features | Where-Object { $Owned -contains $_.Name -and $_.InstallState -eq 'Installed' } | ForEach-Object { $_.Name })
    $restart = $false
    if ($present.Count -gt 0) {
        $result = Uninstall-WindowsFeature -Name $present
        $restart = [string]$result.RestartNeeded -eq 'Yes'
    }
    return (Get-ToolsState -Removed $present -RestartNeeded $restart)
}

# Mode Set: only what is missing; a feature whose payload was removed from the image fails here with
# Windows' own message (it needs -Source).
$missing = @($current.Features | Where-Object { $Features -contains $_.Name -and $_.InstallState -ne 'Installed' } | ForEach-Object { $_.Name })
$restart = $false
if ($missing.Count -gt 0) {
    $result = Install-WindowsFeature -Name $missing
    $restart = [string]$result.RestartNeeded -eq 'Yes'
}
Get-ToolsState -Installed $missing -RestartNeeded $restart
