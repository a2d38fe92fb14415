# The only command line hvprovider ever sends:
#   powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand <this file>
# The script to run, the libraries it includes and its parameters arrive on stdin as one line of JSON:
#   {"name": "iscsi_target.ps1", "script": "<text>", "libs": ["<text>", ...], "params": {"Name": "value", ...}}
# so no parameter (and no password) ever appears on a command line or inside script text.
# Each library is dot-sourced here, so its functions are visible to the script; a script that runs a
# block through Invoke-Command passes $HvproviderLibraries along and dot-sources them there.
# Prints one line: {"ok":true,"result":[...]} or {"ok":false,"error":{...}}.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$payload = ($input | Out-String) | ConvertFrom-Json
$splat = @{}
foreach ($p in $payload.params.PSObject.Properties) { $splat[$p.Name] = $p.Value }
$HvproviderLibraries = @()
if ($payload.libs) { $HvproviderLibraries = @($payload.libs) }
try {
    foreach ($lib in $HvproviderLibraries) { . ([ScriptBlock]::Create($lib)) }
    $block = [ScriptBlock]::Create($payload.script)
    $out = @(& $block @splat)
    '{"ok":true,"result":' + (ConvertTo-Json -InputObject $out -Depth 8 -Compress) + '}'
} catch {
    $e = $_
    '{"ok":false,"error":' + (ConvertTo-Json -Compress -InputObject ([pscustomobject]@{
        message = $e.Exception.Message; category = [string]$e.CategoryInfo.Category
        errorId = $e.FullyQualifiedErrorId; line = $e.InvocationInfo.ScriptLineNumber
        command = [string]$e.InvocationInfo.MyCommand })) + '}'
    exit 1
}
