# HighlyAvailableVM: a VM on a Cluster Shared Volume, made a cluster role, kept on its declared
# owner node and in its declared power state.
#
# A clustered VM moves between nodes, so it is always found through the cluster: the role's
# OwnerNode, then Get-VM -ComputerName <owner>. Reaching another node's Hyper-V and running
# Add-/Move-ClusterVirtualMachineRole from a WinRM logon is a double hop, so the work runs in a
# loopback CredSSP session opened with the domain credential (see failover_cluster.ps1).
#
# Mode Get    : the role and the VM as they are now (Exists = $false when there is no role)
# Mode Set    : create (New-VM on this node, switch connected, then the cluster role) or converge
# Mode Remove : remove the role, the VM and its files on the CSV (missing = success)
param(
    [string]$Mode = 'Get',
    [string]$Name,
    [string]$Path = '',
    [long]$MemoryStartupBytes = 0,
    [int]$ProcessorCount = 1,
    [int]$Generation = 2,
    [long]$DiskSizeBytes = 0,
    [string]$SwitchName = '',
    $PreferredOwners = @(),
    [string]$OwnerNode = '',
    [string]$State = 'Running',
    [string]$MigrationType = 'Live',
    [bool]$AllowRestart = $false,
    [string]$DomainUser,
    [string]$DomainPassword
)

$credential = New-Object System.Management.Automation.PSCredential($DomainUser, (ConvertTo-SecureString $DomainPassword -AsPlainText -Force))

$work = {
    param($Mode, $Name, $Path, $MemoryStartupBytes, $ProcessorCount, $Generation, $DiskSizeBytes,
          $SwitchName, $PreferredOwners, $OwnerNode, $State, $MigrationType, $AllowRestart)
    $ErrorActionPreference = 'Stop'

    function Get-ShortName {
        param($Value)
        if ($null -eq $Value) { return '' }
        if ($Value.Name) { $Value = $Value.Name }
        return ([string]$Value).Split('.')[0].ToUpper()
    }

    function Get-State {
        # A missing role is a terminating error of the cluster cmdlets: catch it.
        $group = $null
        try { $group = Get-ClusterGroup -Name $Name -ErrorAction SilentlyContinue } catch { }
        if ($null -eq $group) {
            return [pscustomobject]@{ Exists = $false; Name = $Name }
        }
        $owner = Get-ShortName $group.OwnerNode
        $vm = Get-VM -ComputerName $owner -Name $Name
        $adapter = @(Get-VMNetworkAdapter -ComputerName $owner -VMName $Name) | Select-Object -First 1
        $drive = @(Get-VMHardDiskDrive -ComputerName $owner -VMName $Name) | Select-Object -First 1
        $diskSize = 0
        $vhdPath = ''
        if ($drive) {
            $vhdPath = [string]$drive.Path
            $diskSize = [long](Get-VHD -ComputerName $owner -Path $vhdPath).Size
        }
        $preferred = @(Get-ClusterOwnerNode -Group $Name | ForEach-Object { $_.OwnerNodes } | ForEach-Object { Get-ShortName $_ })
        return [pscustomobject]@{
            Exists             = $true
            Name               = [string]$vm.Name
            GroupName          = [string]$group.Name
            GroupState         = [string]$group.State
            OwnerNode          = $owner
            VMState            = [string]$vm.State
            VMId               = [string]$vm.Id
            Path               = [string]$vm.Path
            VhdPath            = $vhdPath
            DiskSizeBytes      = $diskSize
            MemoryStartupBytes = [long]$vm.MemoryStartup
            ProcessorCount     = [int]$vm.ProcessorCount
            Generation         = [int]$vm.Generation
            SwitchName         = [string]$adapter.SwitchName
            PreferredOwners    = $preferred
        }
    }

    # The VM files must sit on a Cluster Shared Volume, or the role could not fail over.
    function Assert-PathOnCsv {
        $mounts = @(Get-ClusterSharedVolume | ForEach-Object { @($_.SharedVolumeInfo)[0].FriendlyVolumeName })
        foreach ($mount in $mounts) {
            if (($Path + '\').ToLower().StartsWith(([string]$mount + '\').ToLower())) { return }
        }
        throw "Path '$Path' is not on a Cluster Shared Volume of this cluster (CSVs: $($mounts -join ', ')): a highly available VM needs its configuration and disks on a CSV."
    }

    # Off means shut down. Stop-ClusterGroup would use the role's offline action (Save), and a saved
    # VM still cannot change its memory or processors; a clean shutdown through Hyper-V on the owner
    # takes the role offline too.
    function Stop-Role {
        param($Owner)
        Stop-VM -ComputerName $Owner -Name $Name -Force
    }

    function Start-Role {
        Start-ClusterGroup -Name $Name | Out-Null
    }

    $current = Get-State
    if ($Mode -eq 'Remove') {
        if ($current.Exists) {
            $owner = $current.OwnerNode
            Remove-ClusterGroup -Name $Name -RemoveResources -Force
            # Running or paused: turn it off; a saved VM is removed with its saved state as it is.
            if (@('Running', 'Paused') -contains $current.VMState) { Stop-VM -ComputerName $owner -Name $Name -TurnOff -Force }
            Remove-VM -ComputerName $owner -Name $Name -Force
            $vmFolder = Join-Path $Path $Name
            if (Test-Path -LiteralPath $vmFolder) { Remove-Item -LiteralPath $vmFolder -Recurse -Force }
        }
        else {
            # A VM left by an interrupted create (made on this node, never clustered).
            $orphan = $null
            try { $orphan = Get-VM -Name $Name -ErrorAction SilentlyContinue } catch { }
            if ($orphan -and ([string]$orphan.Path).ToLower().StartsWith($Path.ToLower())) {
                if (@('Running', 'Paused') -contains [string]$orphan.State) { Stop-VM -Name $Name -TurnOff -Force }
                Remove-VM -Name $Name -Force
                $vmFolder = Join-Path $Path $Name
                if (Test-Path -LiteralPath $vmFolder) { Remove-Item -LiteralPath $vmFolder -Recurse -Force }
            }
        }
        $current = [pscustomobject]@{ Exists = $false; Name = $Name }
    }
    elseif ($Mode -eq 'Set') {
        if (-not $current.Exists) {
            Assert-PathOnCsv
            # An earlier run may have created the VM and stopped before clustering it: adopt it.
            $vm = $null
            try { $vm = Get-VM -Name $Name -ErrorAction SilentlyContinue } catch { }
            if ($null -eq $vm) {
                $vhdPath = Join-Path $Path "$Name\Virtual Hard Disks\$Name.vhdx"
                New-VM -Name $Name -Path $Path -Generation $Generation -MemoryStartupBytes $MemoryStartupBytes -NewVHDPath $vhdPath -NewVHDSizeBytes $DiskSizeBytes -SwitchName $SwitchName | Out-Null
                Set-VMProcessor -VMName $Name -Count $ProcessorCount
            }
            # The seed's rule: the adapter is connected before the VM becomes a cluster role.
            $adapter = @(Get-VMNetworkAdapter -VMName $Name) | Select-Object -First 1
            if ([string]$adapter.SwitchName -ne $SwitchName) { Connect-VMNetworkAdapter -VMName $Name -SwitchName $SwitchName }
            Add-ClusterVirtualMachineRole -VMName $Name -Name $Name | Out-Null
            $current = Get-State
        }
        $owner = $current.OwnerNode
        # Saved (e.g. the role was taken offline) counts as not running: Start-ClusterGroup restores it.
        $running = @('Running', 'Paused') -contains $current.VMState
        if ($State -eq 'Off' -and $running) {
            Stop-Role -Owner $owner
            $running = $false
        }
        $wantedOwners = @($PreferredOwners | ForEach-Object { Get-ShortName $_ })
        if ($wantedOwners.Count -gt 0 -and (($wantedOwners -join ',') -ne (@($current.PreferredOwners) -join ','))) {
            Set-ClusterOwnerNode -Group $Name -Owners $wantedOwners | Out-Null
        }
        # Startup memory and processor count change only while the VM is off.
        $sizing = ($current.MemoryStartupBytes -ne $MemoryStartupBytes) -or ($current.ProcessorCount -ne $ProcessorCount)
        if ($sizing) {
            if ($running) {
                if (-not $AllowRestart) {
                    throw "VM '$Name' is running on ${owner}: changing its memory or processor count needs it turned off. Set allow_restart_for_changes=True to let the provider stop and restart it, or set state='Off'."
                }
                Stop-Role -Owner $owner
                $running = $false
            }
            if ($current.MemoryStartupBytes -ne $MemoryStartupBytes) { Set-VMMemory -ComputerName $owner -VMName $Name -StartupBytes $MemoryStartupBytes }
            if ($current.ProcessorCount -ne $ProcessorCount) { Set-VMProcessor -ComputerName $owner -VMName $Name -Count $ProcessorCount }
        }
        if ($current.SwitchName -ne $SwitchName) {
            Connect-VMNetworkAdapter -ComputerName $owner -VMName $Name -SwitchName $SwitchName
        }
        # Owner: a running VM moves by live (or quick) migration, a stopped one is simply moved.
        $target = Get-ShortName $OwnerNode
        if ($target -and $target -ne $owner) {
            if ($running) {
                Move-ClusterVirtualMachineRole -Name $Name -Node $target -MigrationType $MigrationType | Out-Null
            } else {
                Move-ClusterGroup -Name $Name -Node $target | Out-Null
            }
        }
        if ($State -eq 'Running' -and -not $running) {
            Start-Role
        }
        if ($State -eq 'Running' -and $running -and $current.GroupState -ne 'Online') {
            Start-Role
        }
        $current = Get-State
    }
    # A string crosses the remoting boundary unchanged (objects would come back deserialized).
    ConvertTo-Json -InputObject $current -Depth 6 -Compress
}

$json = Invoke-Command -ComputerName $env:COMPUTERNAME -Credential $credential -Authentication Credssp -ScriptBlock $work -ArgumentList $Mode, $Name, $Path, $MemoryStartupBytes, $ProcessorCount, $Generation, $DiskSizeBytes, $SwitchName, @($PreferredOwners), $OwnerNode, $State, $MigrationType, $AllowRestart
ConvertFrom-Json -InputObject ([string]$json)
