# The only command line hvprovider ever sends:
#   powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand <this file>
# The script to run and its parameters arrive on stdin as one line of JSON:
#   {"name": "iscsi_target.ps1", "script": "<text>", "params": {"Name": "value", ...}}
# so no parameter (and no password) ever appears on a command line or inside script text.
# Prints one line: {"ok":true,"result":[...]} or {"ok":false,"error":{...}}.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$payload = ($input | Out-String) | ConvertFrom-Json
$splat = @{}
foreach ($p in $payload.params.PSObject.Properties) { $splat[$p.Name] = $p.Value }
try {
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
