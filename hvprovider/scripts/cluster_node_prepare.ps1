# ClusterNode, the steps that need a restart: Windows features and domain membership.
#   -Mode Set     install the missing features (with their management tools) and join the domain
#                 when this host is not a member yet; reports RestartNeeded, never restarts itself
#                 (the provider restarts the host and waits for a new LastBootUpTime)
#   -Mode Remove  uninstall the given features and/or leave the domain (only when the resource's
#                 remove_features_on_delete / leave_domain_on_delete flags ask for it)
# The join password arrives as data (JoinPassword) and only ever becomes a PSCredential.
param(
    [string]$Mode = 'Set',
    [string[]]$Features = @(),
    [string]$DomainName = '',
    [string]$JoinUser = '',
    [string]$JoinPassword = '',
    [bool]$LeaveDomain = $false
)

function New-JoinCredential {
    $secure = ConvertTo-SecureString $JoinPassword -AsPlainText -Force
    New-Object System.Management.Automation.PSCredential($JoinUser, $secure)
}

$changes = @()
$restartNeeded = $false
$cs = Get-CimInstance -ClassName Win32_ComputerSystem
$currentDomain = $null
if ($cs.PartOfDomain) { $currentDomain = [string]$cs.Domain }

if ($Mode -eq 'Set') {
    $pending = @()
    $found = @()
    if (@($Features).Count -gt 0) { $found = @(Get-WindowsFeature -Name $Features) }
    foreach ($f in $found) {
        if ([string]$f.InstallState -eq 'InstallPending') { $pending += [string]$f.Name }
        elseif (-not $f.Installed) {
            $result = Install-WindowsFeature -Name $f.Name -IncludeManagementTools
            $changes += "installed $($f.Name)"
            if ([string]$result.RestartNeeded -ne 'No') { $restartNeeded = $true }
        }
    }
    if ($pending.Count -gt 0) { $restartNeeded = $true; $changes += ('pending ' + ($pending -join ', ')) }
    if ($DomainName -ne '') {
        if ($null -eq $currentDomain) {
            Add-Computer -DomainName $DomainName -Credential (New-JoinCredential) -Force
            $changes += "joined $DomainName"
            $restartNeeded = $true
        }
        elseif ($currentDomain -ne $DomainName) {
            throw "$env:COMPUTERNAME is a member of domain '$currentDomain', not '$DomainName'. Leave that domain first (or set domain_name to '$currentDomain')."
        }
    }
}
elseif ($Mode -eq 'Remove') {
    $found = @()
    if (@($Features).Count -gt 0) { $found = @(Get-WindowsFeature -Name $Features) }
    foreach ($f in $found) {
        if ($f.Installed) {
            $result = Uninstall-WindowsFeature -Name $f.Name
            $changes += "uninstalled $($f.Name)"
            if ([string]$result.RestartNeeded -ne 'No') { $restartNeeded = $true }
        }
    }
    if ($LeaveDomain -and $null -ne $currentDomain) {
        Remove-Computer -UnjoinDomainCredential (New-JoinCredential) -WorkgroupName 'WORKGROUP' -Force
        $changes += "left $currentDomain"
        $restartNeeded = $true
    }
}
else {
    throw "cluster_node_prepare.ps1: unknown Mode '$Mode' (Set or Remove)"
}

[pscustomobject]@{
    ComputerName  = [string]$env:COMPUTERNAME
    Domain        = $currentDomain
    RestartNeeded = $restartNeeded
    Changes       = @($changes)
}
