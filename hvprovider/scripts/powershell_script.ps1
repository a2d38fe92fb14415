# PowerShellScript: run one of the user's own scripts (its create, update or delete script) on this host.
# The script text, its parameters and its environment arrive as data (parameters of this file, read
# from the JSON on stdin): the text becomes a script block and the parameters are bound to its
# param() block by name, so no value is ever parsed as PowerShell code.
#   -Script       the user's script text (PowerShell 5.1)
#   -Parameters   object of name -> value, passed to the script block by name (splatting)
#   -Environment  object of name -> string, process environment variables while it runs (they live
#                 in this powershell.exe process only, which ends with the run)
# The user's script inherits $ErrorActionPreference = 'Stop': an error ends it, unless the script
# says otherwise (-ErrorAction Continue writes the error to Stderr and goes on).
# Returns one record: Stdout (the output as text), Stderr (the errors that did not stop it), Failed,
# and when it failed: Stage (parse: a syntax error; bind: its parameters did not bind; run) and the
# error's Message, Line (in the user's script, for the run stage), Command, Category and ErrorId.
param(
    [string]$Script,
    [object]$Parameters = $null,
    [object]$Environment = $null
)

$splat = @{}
if ($null -ne $Parameters) {
    foreach ($p in $Parameters.PSObject.Properties) { $splat[$p.Name] = $p.Value }
}
if ($null -ne $Environment) {
    foreach ($v in $Environment.PSObject.Properties) {
        [Environment]::SetEnvironmentVariable($v.Name, [string]$v.Value)
    }
}

$records = @()
$failure = $null
$stage = 'parse'
try {
    $block = [ScriptBlock]::Create($Script)
    $stage = 'run'
    # 2>&1: the errors the script writes without stopping join its output; told apart below
    $records = @(& $block @splat 2>&1)   # CALL-OF-THE-USER-SCRIPT
}
catch {
    $failure = $_
    # an error of the call itself (a parameter an advanced script refuses) is not in the user's script
    if ($stage -eq 'run' -and [string]$failure.InvocationInfo.Line -like '*# CALL-OF-THE-USER-SCRIPT*') {
        $stage = 'bind'
    }
}

$output = @($records | Where-Object { -not ($_ -is [System.Management.Automation.ErrorRecord]) })
$errors = @($records | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })
$stdout = ''
if ($output.Count -gt 0) { $stdout = ($output | Out-String).TrimEnd("`r", "`n") }
$stderr = (@($errors | ForEach-Object { $_.ToString() }) -join "`n")

if ($null -eq $failure) {
    [pscustomobject]@{ Stdout = $stdout; Stderr = $stderr; Failed = $false }
}
else {
    [pscustomobject]@{
        Stdout   = $stdout
        Stderr   = $stderr
        Failed   = $true
        Stage    = $stage
        Message  = [string]$failure.Exception.Message
        Line     = $(if ($stage -eq 'run') { [int]$failure.InvocationInfo.ScriptLineNumber } else { 0 })
        Command  = $(if ($stage -eq 'run') { [string]$failure.InvocationInfo.MyCommand } else { '' })
        Category = [string]$failure.CategoryInfo.Category
        ErrorId  = [string]$failure.FullyQualifiedErrorId
    }
}
