# Restart this host now. The caller waits for a new LastBootUpTime (host_boot_time.ps1).
$os = Get-CimInstance -ClassName Win32_OperatingSystem
$before = $os.LastBootUpTime.ToUniversalTime().ToString('o')
Restart-Computer -Force
[pscustomobject]@{
    ComputerName   = $env:COMPUTERNAME
    LastBootUpTime = $before
    Restarting     = $true
}
