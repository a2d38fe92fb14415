# Preflight: what this host looks like to the lab before the first `pulumi up` (hvprovider/preflight.py
# runs it on every host of the stack and judges the answers). Read-only: nothing here changes the host.
#   -Features  the Windows features the lab will install here (their install state)
#   -Names     host and domain names this host must resolve (the other hosts, the domain)
# Returns one record.
param(
    [string[]]$Features = @(),
    [string[]]$Names = @()
)

$os = Get-CimInstance -ClassName Win32_OperatingSystem
$cs = Get-CimInstance -ClassName Win32_ComputerSystem

$featureStates = @()
if ($Features.Count -gt 0) {
    $featureStates = @(Get-WindowsFeature -Name $Features | ForEach-Object {
        [pscustomobject]@{ Name = [string]$_.Name; InstallState = [string]$_.InstallState } })
}

# A Public network profile limits WinRM (and the cluster's traffic) to the local subnet.
$profiles = @(Get-NetConnectionProfile | ForEach-Object {
    [pscustomobject]@{ InterfaceAlias = [string]$_.InterfaceAlias; NetworkCategory = [string]$_.NetworkCategory } })

$resolved = @(foreach ($name in $Names) {
    try {
        $answer = @(Resolve-DnsName -Name $name -ErrorAction Stop) | Select-Object -First 1
        [pscustomobject]@{ Name = $name; Ok = $true; Address = [string]$answer.IPAddress; Error = '' }
    }
    catch {
        [pscustomobject]@{ Name = $name; Ok = $false; Address = ''; Error = [string]$_.Exception.Message }
    }
})

# Get-WSManCredSSP prints two lines: the client role (and whom it delegates to), then the server role.
$credssp = @(Get-WSManCredSSP | ForEach-Object { [string]$_ })

[pscustomobject]@{
    ComputerName  = [string]$cs.Name
    Domain        = [string]$cs.Domain
    PartOfDomain  = [bool]$cs.PartOfDomain
    OsCaption     = [string]$os.Caption
    OsBuild       = [string]$os.BuildNumber
    ProductType   = [int]$os.ProductType
    PSVersion     = [string]$PSVersionTable.PSVersion
    UtcNow        = (Get-Date).ToUniversalTime().ToString('o')
    Features      = $featureStates
    Profiles      = $profiles
    Resolved      = $resolved
    CredSSP       = $credssp
}
