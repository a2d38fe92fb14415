# FailoverCluster: validate, create, keep node membership and the disk witness as declared, remove.
#
# Test-Cluster, New-Cluster, Add-ClusterNode, Remove-ClusterNode and Remove-Cluster contact every
# node. A WinRM logon (NTLM, Basic, Kerberos without delegation) holds no credential it could pass
# on, so those cmdlets fail with "Access is denied" (the double hop). Everything below therefore runs
# in a loopback CredSSP session opened with the domain credential: the session on this node then
# holds a credential it may delegate to the other nodes. ClusterNode enabled both CredSSP roles.
#
# Mode Get    : read the cluster this node belongs to (Exists = $false when there is none)
# Mode Set    : make it so (validation and creation only when the cluster does not exist yet)
# Mode Remove : destroy the cluster and its computer object in AD (missing = success)
#
# Include: lib/cluster_disks.ps1
param(
    [string]$Mode = 'Get',
    [string]$Name,
    $Nodes = @(),
    [string]$StaticAddress = '',
    [string]$WitnessDiskSerial = '',
    [bool]$SkipValidation = $false,
    [int]$DiskWaitSeconds = 300,
    [string]$DomainUser,
    [string]$DomainPassword
)

$credential = New-Object System.Management.Automation.PSCredential($DomainUser, (ConvertTo-SecureString $DomainPassword -AsPlainText -Force))

$work = {
    param($Libraries, $Mode, $Name, $Nodes, $StaticAddress, $WitnessDiskSerial, $SkipValidation, $DiskWaitSeconds)
    $ErrorActionPreference = 'Stop'
    # The new session knows none of the caller's functions: define lib/cluster_disks.ps1's here.
    foreach ($library in $Libraries) { . ([ScriptBlock]::Create($library)) }

    # Short NetBIOS form of a node name ("hv01.hyper.local" -> "HV01").
    function Get-ShortName {
        param($Value)
        return ([string]$Value).Split('.')[0].ToUpper()
    }

    function Get-State {
        # Not a cluster node: Get-Cluster throws (the cluster service is not running).
        $cluster = $null
        try { $cluster = Get-Cluster -ErrorAction SilentlyContinue } catch { }
        if ($null -eq $cluster) {
            return [pscustomobject]@{ Exists = $false; Name = $Name; OtherCluster = '' }
        }
        if ([string]$cluster.Name -ne $Name) {
            return [pscustomobject]@{ Exists = $false; Name = $Name; OtherCluster = [string]$cluster.Name }
        }
        $nodeStates = @(Get-ClusterNode | Sort-Object -Property Name | ForEach-Object {
            [pscustomobject]@{ Name = [string]$_.Name; State = [string]$_.State }
        })
        $address = ''
        $ipResource = Get-ClusterResource | Where-Object { [string]$_.ResourceType -eq 'IP Address' -and $_.OwnerGroup.Name -eq 'Cluster Group' } | Select-Object -First 1
        if ($ipResource) { $address = [string]($ipResource | Get-ClusterParameter -Name Address).Value }
        $quorum = Get-ClusterQuorum
        $witnessName = ''
        $witnessSerial = ''
        if ($quorum.QuorumResource) {
            $witnessName = [string]$quorum.QuorumResource.Name
            $witness = Get-ClusterResource -Name $witnessName
            foreach ($disk in @(Get-Disk | Where-Object { $_.SerialNumber })) {
                if (Test-ResourceIsDisk -Resource $witness -Disk $disk) { $witnessSerial = [string]$disk.SerialNumber; break }
            }
        }
        return [pscustomobject]@{
            Exists            = $true
            Name              = [string]$cluster.Name
            Domain            = [string]$cluster.Domain
            Fqdn              = ([string]$cluster.Name + '.' + [string]$cluster.Domain).ToLower()
            Id                = [string]$cluster.Id
            Nodes             = $nodeStates
            StaticAddress     = $address
            QuorumType        = [string]$quorum.QuorumType
            WitnessResource   = $witnessName
            WitnessDiskSerial = $witnessSerial
            OtherCluster      = ''
        }
    }

    # Test-Cluster writes one warning per finding and a last one with its verdict ("Test Result:"
    # then ClusterApproved | ClusterConditionallyApproved | ClusterNotApproved, maybe after
    # "HadUnselectedTests, "); its output is the report file.
    function Invoke-Validation {
        $validationWarnings = $null
        $report = Test-Cluster -Node $Nodes -WarningVariable validationWarnings -WarningAction SilentlyContinue
        $verdict = ''
        $findings = @()
        foreach ($warning in @($validationWarnings)) {
            $text = [string]$warning
            if ($text -match 'Test Result:') {
                $verdict = (($text -replace '(?s)^.*?Test Result:\s*', '') -split "`r?`n")[0].Trim()
            }
            elseif ($text) {
                $findings += $text
            }
        }
        $outcome = 'Passed'
        if ($verdict -match 'NotApproved' -or @($findings | Where-Object { $_ -match 'reported some failures' }).Count -gt 0) {
            $outcome = 'Failed'
        }
        elseif ($findings.Count -gt 0) {
            $outcome = 'PassedWithWarnings'
        }
        return [pscustomobject]@{
            Outcome  = $outcome
            Verdict  = $verdict
            Report   = [string]($report | Select-Object -First 1).FullName
            Messages = $findings
        }
    }

    $validation = $null
    $state = Get-State
    if ($Mode -eq 'Remove') {
        if ($state.Exists) { Remove-Cluster -Force -CleanupAD }
        $state = [pscustomobject]@{ Exists = $false; Name = $Name; OtherCluster = '' }
    }
    elseif ($Mode -eq 'Set') {
        if ($state.OtherCluster) {
            throw "$env:COMPUTERNAME already belongs to cluster '$($state.OtherCluster)', not '$Name': remove it from that cluster first or manage that cluster instead."
        }
        if (-not $state.Exists) {
            if ($SkipValidation) {
                $validation = [pscustomobject]@{ Outcome = 'Skipped'; Report = ''; Messages = @() }
            } else {
                $validation = Invoke-Validation
                if ($validation.Outcome -eq 'Failed') {
                    throw ("Cluster validation of " + ($Nodes -join ', ') + " failed; the cluster was not created (" + $validation.Verdict + "). Report: " + $validation.Report + ". " + ($validation.Messages -join ' ') + " Fix the failures, or set skip_validation=True to create the cluster anyway.")
                }
            }
            New-Cluster -Name $Name -Node $Nodes -StaticAddress $StaticAddress -NoStorage | Out-Null
            $state = Get-State
        }
        # Node membership: add with -NoStorage (without it the cluster grabs every shared disk).
        $present = @($state.Nodes | ForEach-Object { Get-ShortName $_.Name })
        $wanted = @($Nodes | ForEach-Object { Get-ShortName $_ })
        foreach ($node in $Nodes) {
            if ($present -notcontains (Get-ShortName $node)) { Add-ClusterNode -Name $node -NoStorage | Out-Null }
        }
        foreach ($node in $present) {
            if ($wanted -notcontains $node) {
                if ($node -eq (Get-ShortName $env:COMPUTERNAME)) {
                    throw "Cannot remove $node from cluster '$Name' through a connection to $node itself: connect to another node of the cluster."
                }
                Remove-ClusterNode -Name $node -Force
            }
        }
        # Disk witness by serial number; an old witness disk we replace leaves the cluster.
        if ($WitnessDiskSerial -and $state.WitnessDiskSerial -ne $WitnessDiskSerial) {
            $oldWitness = $state.WitnessResource
            $resource = Add-SharedDisk -Serial $WitnessDiskSerial -Label 'Witness' -ClusterName $Name -WaitSeconds $DiskWaitSeconds
            Set-ClusterQuorum -DiskWitness ([string]$resource.Name) | Out-Null
            if ($oldWitness -and $oldWitness -ne [string]$resource.Name) {
                Get-ClusterResource | Where-Object { [string]$_.Name -eq $oldWitness } | Remove-ClusterResource -Force
            }
        }
        elseif (-not $WitnessDiskSerial -and $state.WitnessResource) {
            Set-ClusterQuorum -NoWitness | Out-Null
            Get-ClusterResource | Where-Object { [string]$_.Name -eq $state.WitnessResource } | Remove-ClusterResource -Force
        }
        $state = Get-State
    }
    # A string crosses the remoting boundary unchanged (objects would come back deserialized).
    ConvertTo-Json -InputObject ([pscustomobject]@{ State = $state; Validation = $validation }) -Depth 6 -Compress
}

$json = Invoke-Command -ComputerName $env:COMPUTERNAME -Credential $credential -Authentication Credssp -ScriptBlock $work -ArgumentList @($HvproviderLibraries), $Mode, $Name, @($Nodes), $StaticAddress, $WitnessDiskSerial, $SkipValidation, $DiskWaitSeconds
ConvertFrom-Json -InputObject ([string]$json)
