# When did this host start? Used to tell that a restart has completed (the value changes).
$os = Get-CimInstance -ClassName Win32_OperatingSystem
[pscustomobject]@{
    ComputerName   = $env:COMPUTERNAME
    LastBootUpTime = $os.LastBootUpTime.ToUniversalTime().ToString('o')
}
