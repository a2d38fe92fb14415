# DomainController: this server as the first domain controller of a new forest (the seed's step 1).
#   -Mode Get     report the server's role and, on a DC, its domain and forest
#   -Mode Set     adopt the forest when this server is already its DC; otherwise install the AD DS role
#                 (and its management tools) and create the forest. The promotion ends with a restart
#                 that the provider performs and waits for (Install-ADDSForest -NoRebootOnCompletion),
#                 so that this script still returns its record. Refuses, before any change, a server
#                 that is a member or DC of another domain.
#   -Mode Remove  demote the server (Uninstall-ADDSDomainController -LastDomainControllerInDomain),
#                 only when the caller asks for it (demote_on_delete); the restart is the provider's.
# Returns one state record.
param(
    [string]$Mode = 'Get',
    [string]$DomainName,
    [string]$DomainNetbiosName = '',
    [string]$ForestMode = 'WinThreshold',
    [string]$DomainMode = 'WinThreshold',
    [bool]$InstallDns = $true,
    [string]$SafeModePassword = '',
    [string]$LocalAdministratorPassword = ''
)

# Win32_ComputerSystem.DomainRole: 4 = backup DC, 5 = primary DC.
function Get-ControllerState {
    param([string[]]$Changes = @(), [bool]$RestartRequired = $false)
    $cs = Get-CimInstance -ClassName Win32_ComputerSystem
    $isDc = @(4, 5) -contains [int]$cs.DomainRole
    $fqdn = $null; $netbios = $null; $domainMode = $null; $forestMode = $null; $dnsAddress = $null
    $adModule = [bool](Get-WindowsFeature -Name RSAT-AD-PowerShell).Installed
    if ($isDc -and -not $adModule) {
        # A DC without the Active Directory module (installed without management tools): the domain
        # name is all Win32_ComputerSystem tells; Set installs the module.
        $fqdn = [string]$cs.Domain
    }
    if ($isDc -and $adModule) {
        # Active Directory Web Services answers only once the DC is fully up after its restart.
        $domain = Get-ADDomain -Current LocalComputer
        $forest = Get-ADForest -Current LocalComputer
        $fqdn = [string]$domain.DNSRoot
        $netbios = [string]$domain.NetBIOSName
        $domainMode = [string]$domain.DomainMode
        $forestMode = [string]$forest.ForestMode
        $address = @(Get-NetIPAddress -AddressFamily IPv4 | Where-Object { $_.IPAddress -notlike '127.*' -and $_.IPAddress -notlike '169.254.*' }) | Select-Object -First 1
        if ($address) { $dnsAddress = [string]$address.IPAddress }
    }
    [pscustomobject]@{
        ComputerName       = [string]$cs.Name
        PartOfDomain       = [bool]$cs.PartOfDomain
        Domain             = [string]$cs.Domain
        IsDomainController = $isDc
        AdModuleInstalled  = $adModule
        RoleInstalled      = [bool](Get-WindowsFeature -Name AD-Domain-Services).Installed
        DnsInstalled       = [bool](Get-WindowsFeature -Name DNS).Installed
        DomainFqdn         = $fqdn
        NetbiosName        = $netbios
        DomainMode         = $domainMode
        ForestMode         = $forestMode
        DnsServerAddress   = $dnsAddress
        Changes            = @($Changes)
        RestartRequired    = $RestartRequired
    }
}

$current = Get-ControllerState

if ($Mode -eq 'Get') { return $current }

if ($Mode -eq 'Remove') {
    if (-not $current.IsDomainController) { return $current }
    if ($current.DomainFqdn -ne $DomainName) {
        throw "$($current.ComputerName) is a domain controller of '$($current.DomainFqdn)', not of '$DomainName': not demoting it."
    }
    $local = ConvertTo-SecureString $LocalAdministratorPassword -AsPlainText -Force
    Uninstall-ADDSDomainController -LastDomainControllerInDomain -RemoveApplicationPartitions -IgnoreLastDnsServerForZone -LocalAdministratorPassword $local -NoRebootOnCompletion -Force | Out-Null
    $after = Get-ControllerState -Changes @('demoted') -RestartRequired $true
    return $after
}

# Mode Set: never touch a server that belongs to another domain.
if ($current.IsDomainController) {
    if ($current.DomainFqdn -ne $DomainName) {
        throw "$($current.ComputerName) is already a domain controller of '$($current.DomainFqdn)'; it cannot become the first DC of '$DomainName'."
    }
    if (-not $current.AdModuleInstalled) {
        Install-WindowsFeature -Name RSAT-AD-PowerShell | Out-Null
        return (Get-ControllerState -Changes @('installed RSAT-AD-PowerShell'))
    }
    return $current
}
if ($current.PartOfDomain) {
    throw "$($current.ComputerName) is a member of the domain '$($current.Domain)'; a new forest's first domain controller must not be joined to a domain. Remove it from that domain first (or choose another server)."
}

$changes = @()
if (-not $current.RoleInstalled) {
    Install-WindowsFeature -Name AD-Domain-Services -IncludeManagementTools | Out-Null
    $changes += 'installed AD-Domain-Services'
}
$dsrm = ConvertTo-SecureString $SafeModePassword -AsPlainText -Force
$forestArgs = @{
    DomainName                    = $DomainName
    ForestMode                    = $ForestMode
    DomainMode                    = $DomainMode
    InstallDns                    = $InstallDns
    SafeModeAdministratorPassword = $dsrm
    NoRebootOnCompletion          = $true
    Force                         = $true
}
if ($DomainNetbiosName) { $forestArgs.DomainNetbiosName = $DomainNetbiosName }
Install-ADDSForest @forestArgs | Out-Null
$changes += "created forest $DomainName"
Get-ControllerState -Changes $changes -RestartRequired $true
