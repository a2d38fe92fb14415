# Capture a transcript of how a real Windows Server answers the probes hvsim is held against.
# READ-ONLY: it runs Get-* probes and the provider's scripts in their -Mode Get only; it changes nothing.
# Run it as an administrator on a lab host (PowerShell 5.1):
#   powershell.exe -NoProfile -ExecutionPolicy Bypass -File capture.ps1 -OutFile HV01.json -ScriptsPath <repo>\hvprovider\scripts
# Copy the .json into tests/hvsim/transcripts/ and run the conformance test (tests/hvsim/test_conformance.py).
param(
    [string]$OutFile = '.\transcript.json',
    # folder with the provider's .ps1 files; empty = skip them
    [string]$ScriptsPath = '',
    # the hvsim host whose world the replay uses (HV01, HV02 or DC01 in the seed lab)
    [string]$HvsimHost = 'HV01'
)
$ErrorActionPreference = 'Continue'

# Each probe only reads. Add probes here; the replay needs no code change.
$probes = @(
    @{ Name = 'types: [long] cast'; Snippet = '([long]5).GetType().FullName; ([long]5) -is [long]' },
    @{ Name = 'types: [string[]] cast'; Snippet = '([string[]]@(1, 2)).GetType().FullName' },
    @{ Name = 'Get-Service view'; Snippet = 'Get-Service MSiSCSI, WinRM' },
    @{ Name = 'Get-WindowsFeature view'; Snippet = 'Get-WindowsFeature Failover-Clustering, Hyper-V' },
    @{ Name = 'Get-Disk Number type'; Snippet = '(Get-Disk | Select-Object -First 1).Number.GetType().FullName' },
    @{ Name = 'psbase'; Snippet = '$d = Get-Disk | Select-Object -First 1; $d.psBase.CimSystemProperties.ClassName' },
    @{ Name = 'Get-WSManCredSSP'; Snippet = 'Get-WSManCredSSP' },
    @{ Name = 'whoami'; Snippet = 'whoami' },
    @{ Name = 'unknown command error'; Snippet = 'Get-NoSuchThing' }
)

function Invoke-Probe([string]$Name, [string]$Snippet, [string]$Source) {
    $errors = @()
    $text = ''
    try {
        $block = [ScriptBlock]::Create($Snippet)
        $items = @(& $block 2>&1)
        $plain = @()
        foreach ($item in $items) {
            if ($item -is [System.Management.Automation.ErrorRecord]) {
                $errors += [pscustomobject]@{ id = $item.FullyQualifiedErrorId; message = $item.Exception.Message }
            } else {
                $plain += $item
            }
        }
        # 119: the table width powershell.exe has under WinRM on Server 2016+ (a 120-column console, one
        # column kept free), whatever the width of the window this capture runs in
        $text = ($plain | Out-String -Width 119)
    } catch {
        $errors += [pscustomobject]@{ id = $_.FullyQualifiedErrorId; message = $_.Exception.Message }
    }
    [pscustomobject]@{ name = $Name; snippet = $Snippet; output = $text; errors = @($errors); source = $Source }
}

$os = Get-CimInstance -ClassName Win32_OperatingSystem
$entries = @()
foreach ($p in $probes) {
    $entries += Invoke-Probe -Name $p.Name -Snippet $p.Snippet -Source ('capture.ps1 on ' + $env:COMPUTERNAME)
}

if ($ScriptsPath -ne '') {
    # The provider's scripts in their read-only mode, their libraries dot-sourced first as bootstrap.ps1 does.
    foreach ($name in @('cluster_node.ps1', 'iscsi_target.ps1')) {
        $path = Join-Path -Path $ScriptsPath -ChildPath $name
        if (-not (Test-Path -Path $path)) { continue }
        $scriptText = Get-Content -Path $path -Raw
        $libs = @()
        foreach ($line in ($scriptText -split "`n")) {
            if ($line -match '^# Include: (lib/\S+\.ps1)') {
                $libs += Get-Content -Path (Join-Path -Path $ScriptsPath -ChildPath $Matches[1]) -Raw
            }
        }
        $snippet = ($libs -join "`n") + "`n" + '$out = & ([ScriptBlock]::Create(' + "@'`n" + $scriptText + "`n'@" +
            ')) -Mode Get' + "`n" + '$out | ConvertTo-Json -Depth 4 -Compress'
        $entries += Invoke-Probe -Name ($name + ' -Mode Get') -Snippet $snippet -Source ('capture.ps1 on ' + $env:COMPUTERNAME)
    }
}

$transcript = [pscustomobject]@{
    source  = 'tools/capture/capture.ps1 on ' + $env:COMPUTERNAME
    os      = [pscustomobject]@{ caption = $os.Caption; version = $os.Version; build = $os.BuildNumber }
    psversion = $PSVersionTable.PSVersion.ToString()
    host    = $HvsimHost
    entries = @($entries)
}
$transcript | ConvertTo-Json -Depth 6 | Set-Content -Path $OutFile -Encoding UTF8
Write-Output ('wrote ' + $OutFile + ': ' + $entries.Count + ' entries')
