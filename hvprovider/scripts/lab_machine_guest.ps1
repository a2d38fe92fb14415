# LabMachine, inside the guest: its first configuration through PowerShell Direct (Invoke-Command
# -VMId from the Hyper-V host), so that it needs no network path before it has an address.
#
# Mode Get : whether the guest answers yet (Ready; Reason says why not: still in first boot, wrong
#            password...) and, when it does, its name, adapters (by MAC address), IPv4 addresses, DNS
#            servers, network category, WinRM and time zone
# Mode Set : converge each adapter (found by the MAC address Hyper-V gave it, never by its name):
#            its name, its one static IPv4 address (with prefix and gateway), its DNS servers; a
#            Public network (an unidentified network is Public) becomes Private, so that WinRM's
#            default rules admit the lab; WinRM enabled; the time zone. Deletes the answer file
#            Windows Setup left in Windows\Panther (it held the encoded Administrator password).
#
# Adapters arrive as JSON: [{"MacAddress", "Name", "IPAddress", "PrefixLength", "Gateway", "DnsServers"}].
param(
    [string]$Mode = 'Get',
    [string]$VMId,
    [string]$UserName = 'Administrator',
    [string]$AdministratorPassword,
    [string]$AdaptersJson = '[]',
    [string]$TimeZone = 'UTC'
)

$credential = New-Object System.Management.Automation.PSCredential($UserName, (ConvertTo-SecureString $AdministratorPassword -AsPlainText -Force))

$work = {
    param($Mode, $AdaptersJson, $TimeZone)
    $ErrorActionPreference = 'Stop'
    # (5.1's ConvertFrom-Json emits a JSON array as ONE object: assign it, do not wrap it in @())
    $desired = ConvertFrom-Json -InputObject $AdaptersJson
    $answerFile = Join-Path $env:SystemRoot 'Panther\unattend.xml'

    function Get-Compact([string]$Mac) { ($Mac -replace '[-:]', '').ToUpper() }

    function Get-GuestState {
        param([string[]]$Changes = @())
        $adapters = @(Get-NetAdapter | ForEach-Object {
            $index = $_.InterfaceIndex
            $profile = @(Get-NetConnectionProfile | Where-Object { $_.InterfaceIndex -eq $index }) | Select-Object -First 1
            [pscustomobject]@{
                Name            = [string]$_.Name
                MacAddress      = Get-Compact $_.MacAddress
                IPAddresses     = @(Get-NetIPAddress -AddressFamily IPv4 | Where-Object { $_.InterfaceIndex -eq $index -and $_.PrefixOrigin -eq 'Manual' } | ForEach-Object { [string]$_.IPAddress + '/' + [string]$_.PrefixLength })
                DnsServers      = @(@(Get-DnsClientServerAddress -AddressFamily IPv4 | Where-Object { $_.InterfaceIndex -eq $index }) | ForEach-Object { $_.ServerAddresses })
                NetworkCategory = if ($profile) { [string]$profile.NetworkCategory } else { '' }
            }
        })
        $winrm = Get-Service -Name WinRM
        [pscustomobject]@{
            Ready             = $true
            ComputerName      = $env:COMPUTERNAME
            Adapters          = $adapters
            WinRMRunning      = ([string]$winrm.Status -eq 'Running')
            TimeZone          = [string](Get-TimeZone).Id
            AnswerFilePresent = [bool](Test-Path -LiteralPath $answerFile)
            Changes           = @($Changes)
        }
    }

    if ($Mode -eq 'Get') { return (Get-GuestState) }

    $changes = @()
    foreach ($want in $desired) {
        $same = @(Get-NetAdapter | Where-Object { (Get-Compact $_.MacAddress) -eq (Get-Compact $want.MacAddress) })
        $nic = @($same | Where-Object { -not $_.Virtual }) | Select-Object -First 1
        if ($null -eq $nic) { throw "the guest has no network adapter with MAC address $($want.MacAddress)" }
        if ($want.Name -and [string]$nic.Name -ne $want.Name) {
            Rename-NetAdapter -Name $nic.Name -NewName $want.Name
            $changes += "renamed adapter '$($nic.Name)' to '$($want.Name)'"
        }
        # An external virtual switch shared with the host (a cluster node's VM switch) moves the adapter's
        # IP configuration to its vEthernet adapter, which has the same MAC address: configure that one.
        $shared = @($same | Where-Object { $_.Virtual }) | Select-Object -First 1
        if ($shared) { $nic = $shared }
        $index = $nic.InterfaceIndex
        $manual = @(Get-NetIPAddress -AddressFamily IPv4 | Where-Object { $_.InterfaceIndex -eq $index -and $_.PrefixOrigin -eq 'Manual' })
        $present = @($manual | Where-Object { [string]$_.IPAddress -eq $want.IPAddress -and [int]$_.PrefixLength -eq [int]$want.PrefixLength })
        foreach ($old in @($manual | Where-Object { -not ([string]$_.IPAddress -eq $want.IPAddress -and [int]$_.PrefixLength -eq [int]$want.PrefixLength) })) {
            # this adapter belongs to the lab machine: an address it should no longer have goes
            Remove-NetIPAddress -InterfaceIndex $index -IPAddress $old.IPAddress -Confirm:$false
            $changes += "removed $($old.IPAddress)/$($old.PrefixLength) from adapter $($want.MacAddress)"
        }
        if ($present.Count -eq 0) {
            $ipArgs = @{ InterfaceIndex = $index; IPAddress = $want.IPAddress; PrefixLength = [byte]$want.PrefixLength }
            if ($want.Gateway) { $ipArgs.DefaultGateway = $want.Gateway }
            New-NetIPAddress @ipArgs | Out-Null
            $changes += "set $($want.IPAddress)/$($want.PrefixLength) on adapter $($want.MacAddress)"
        }
        $servers = @($want.DnsServers | Where-Object { $_ })
        if ($servers.Count -gt 0) {
            $current = @(@(Get-DnsClientServerAddress -AddressFamily IPv4 | Where-Object { $_.InterfaceIndex -eq $index }) | ForEach-Object { $_.ServerAddresses })
            if (($current -join ',') -ne ($servers -join ',')) {
                Set-DnsClientServerAddress -InterfaceIndex $index -ServerAddresses $servers
                $changes += "DNS servers $($servers -join ', ') on adapter $($want.MacAddress)"
            }
        }
        $profile = @(Get-NetConnectionProfile | Where-Object { $_.InterfaceIndex -eq $index }) | Select-Object -First 1
        if ($profile -and [string]$profile.NetworkCategory -eq 'Public') {
            Set-NetConnectionProfile -InterfaceIndex $index -NetworkCategory Private
            $changes += "network of adapter $($want.MacAddress) Private"
        }
    }
    $winrm = Get-Service -Name WinRM
    if ([string]$winrm.Status -ne 'Running' -or [string]$winrm.StartType -ne 'Automatic') {
        Enable-PSRemoting -Force -SkipNetworkProfileCheck | Out-Null
        $changes += 'enabled WinRM'
    }
    if ([string](Get-TimeZone).Id -ne $TimeZone) {
        Set-TimeZone -Id $TimeZone
        $changes += "time zone $TimeZone"
    }
    if (Test-Path -LiteralPath $answerFile) {
        Remove-Item -LiteralPath $answerFile -Force
        $changes += 'deleted the answer file'
    }
    Get-GuestState -Changes $changes
}

try {
    $state = Invoke-Command -VMId $VMId -Credential $credential -ScriptBlock $work -ArgumentList $Mode, $AdaptersJson, $TimeZone
} catch {
    # During first boot (specialize, OOBE) and restarts PowerShell Direct cannot reach the guest yet:
    # that is an answer, not a failure, for the provider that polls.
    if ($Mode -eq 'Get') {
        return [pscustomobject]@{ Ready = $false; Reason = [string]$_.Exception.Message }
    }
    throw
}
$state | Select-Object -Property Ready, ComputerName, Adapters, WinRMRunning, TimeZone, AnswerFilePresent, Changes
