# LabFirewall: the inbound rules the lab needs on this host are enabled; the firewall stays on.
#   -Mode Get     for each need (purpose, protocol, port): the inbound allow rules that serve that port
#                 and which of them are enabled; the profiles' state (reported, never changed)
#   -Mode Set     a need with no enabled rule: enable the rules Windows has for that port (a feature
#                 brought them), or, when there are none, create one named hvprovider-<purpose>-<proto>-<port>;
#                 remove the rules this resource created earlier that no need uses any more
#   -Mode Remove  remove the rules this resource created (-Owned, exact names); rules it only enabled stay
#                 enabled (a running cluster or WinRM session depends on them)
# Rules are found by protocol and port (Get-NetFirewallPortFilter), not by their names, which differ
# between Windows versions and languages. Returns one state record.
param(
    [string]$Mode = 'Get',
    $Needs = @(),
    [string[]]$Owned = @(),
    [bool]$CreateMissing = $true
)

function Get-OwnName {
    param($Need)
    return ('hvprovider-{0}-{1}-{2}' -f $Need.Purpose, ([string]$Need.Protocol).ToLower(), $Need.Port)
}

function Get-FirewallState {
    param([string[]]$Changes = @())
    # One query for the rules and one for the port filters, joined by InstanceID (the rule's Name).
    $rules = @{}
    foreach ($rule in @(Get-NetFirewallRule -Direction Inbound -Action Allow)) { $rules[[string]$rule.Name] = $rule }
    $filters = @(Get-NetFirewallPortFilter -All)
    $status = @(foreach ($need in @($Needs)) {
        $serving = @($filters | Where-Object {
            ([string]$_.Protocol -eq [string]$need.Protocol) -and
            (@($_.LocalPort | ForEach-Object { [string]$_ }) -contains [string]$need.Port) -and
            $rules.ContainsKey([string]$_.InstanceID)
        } | ForEach-Object { $rules[[string]$_.InstanceID] })
        [pscustomobject]@{
            Purpose  = [string]$need.Purpose
            Protocol = [string]$need.Protocol
            Port     = [int]$need.Port
            Rules    = @($serving | ForEach-Object { [string]$_.Name })
            Enabled  = @($serving | Where-Object { [string]$_.Enabled -eq 'True' } | ForEach-Object { [string]$_.Name })
        }
    })
    $profiles = @(Get-NetFirewallProfile | ForEach-Object {
        [pscustomobject]@{ Name = [string]$_.Name; Enabled = ([string]$_.Enabled -eq 'True') } })
    [pscustomobject]@{
        Needs    = $status
        Profiles = $profiles
        Owned    = @($Owned | Where-Object { $rules.ContainsKey($_) })
        Changes  = @($Changes)
    }
}

$current = Get-FirewallState
if ($Mode -eq 'Get') { return $current }

$changes = @()
if ($Mode -eq 'Remove') {
    foreach ($name in @($current.Owned)) {
        Remove-NetFirewallRule -Name $name
        $changes += "removed $name"
    }
    return (Get-FirewallState -Changes $changes)
}

# Mode Set
$wanted = @()
foreach ($need in @($current.Needs)) {
    $own = Get-OwnName $need
    if (@($need.Enabled).Count -gt 0) {
        if (@($need.Enabled) -contains $own) { $wanted += $own }
        continue
    }
    if (@($need.Rules).Count -gt 0) {
        foreach ($name in @($need.Rules)) {
            Enable-NetFirewallRule -Name $name
            $changes += "enabled $name ($($need.Purpose), $($need.Protocol) $($need.Port))"
        }
        if (@($need.Rules) -contains $own) { $wanted += $own }
        continue
    }
    if (-not $CreateMissing) {
        throw "No firewall rule on $env:COMPUTERNAME lets $($need.Protocol) port $($need.Port) in ($($need.Purpose)) and create_missing_rules is off: add one, or let the provider create it."
    }
    New-NetFirewallRule -Name $own -DisplayName "hvprovider: $($need.Purpose) ($($need.Protocol) $($need.Port))" -Group 'hvprovider' -Direction Inbound -Action Allow -Protocol $need.Protocol -LocalPort $need.Port -Profile Any | Out-Null
    $changes += "created $own"
    $wanted += $own
}
# Rules this resource created for a need it no longer has.
foreach ($name in @($current.Owned)) {
    if ($wanted -notcontains $name) {
        Remove-NetFirewallRule -Name $name
        $changes += "removed $name"
    }
}
$Owned = @($wanted)
Get-FirewallState -Changes $changes
