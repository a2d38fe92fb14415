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
# Mode Remove : remove the role, the VM, the VHDX files create made (VhdPaths) and each folder create
#               made (CreatedFolders) that is empty by then, never recursively (missing = success)
#
# The VM is found by the Id recorded at create (VMId), never by its name: Hyper-V's -Name parameters
# read * ? [ ] as wildcards. Files and folders go by -LiteralPath.
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
    [string]$VMId = '',
    $VhdPaths = @(),
    $CreatedFolders = @(),
    [string]$DomainUser,
    [string]$DomainPassword
)

$credential = New-Object System.Management.Automation.PSCredential($DomainUser, (ConvertTo-SecureString $DomainPassword -AsPlainText -Force))

$work = {
    param($Mode, $Name, $Path, $MemoryStartupBytes, $ProcessorCount, $Generation, $DiskSizeBytes,
          $SwitchName, $PreferredOwners, $OwnerNode, $State, $MigrationType, $AllowRestart,
          $VMId, $VhdPaths, $CreatedFolders)
    $ErrorActionPreference = 'Stop'
    $VhdPaths = @($VhdPaths | Where-Object { $_ })
    $CreatedFolders = @($CreatedFolders | Where-Object { $_ })

    function Get-ShortName {
        param($Value)
        if ($null -eq $Value) { return '' }
        if ($Value.Name) { $Value = $Value.Name }
        return ([string]$Value).Split('.')[0].ToUpper()
    }

    function Get-State {
        $group = Get-Role
        if ($null -eq $group) {
            return [pscustomobject]@{ Exists = $false; Name = $Name }
        }
        $owner = Get-ShortName $group.OwnerNode
        $vm = Get-OwnVM -Owner $owner -Group $group
        $adapter = @(Get-VMNetworkAdapter -VM $vm) | Select-Object -First 1
        $drive = @(Get-VMHardDiskDrive -VM $vm) | Select-Object -First 1
        $diskSize = 0
        $vhdPath = ''
        if ($drive) {
            $vhdPath = [string]$drive.Path
            $diskSize = [long](Get-VHD -ComputerName $owner -Path $vhdPath).Size
        }
        $preferred = @(Get-ClusterOwnerNode -InputObject $group | ForEach-Object { $_.OwnerNodes } | ForEach-Object { Get-ShortName $_ })
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

    # The VM's cluster role: by the VM Id recorded at create, else by its exact name (Where-Object -eq:
    # FailoverClusters' -Name may read [ ] as a wildcard). Its cmdlets get this object piped.
    # A missing role (or no cluster service) is a terminating error of the cluster cmdlets: $null.
    function Get-Role {
        $role = $null
        try {
            if ($VMId) { $role = Get-ClusterGroup -VMId $VMId -ErrorAction SilentlyContinue }
            else { $role = Get-ClusterGroup | Where-Object { [string]$_.Name -eq $Name } }
        } catch { }
        if ($role) { return @($role)[0] }
    }

    # The VM of the role: by the Id recorded at create, else (before anything was recorded) the one the
    # role holds. Never Get-VM -Name: that reads [ ] in a name as a wildcard.
    function Get-OwnVM {
        param($Owner, $Group)
        if ($VMId) { return Get-VM -ComputerName $Owner -Id $VMId }
        return Get-VM -ClusterObject $Group
    }

    # The folders at and below $Folder that do not exist yet, outermost first.
    function Get-MissingFolders {
        param([string]$Folder)
        $missing = @()
        while ($Folder -and -not (Test-Path -LiteralPath $Folder)) {
            $missing = @($Folder) + $missing
            $Folder = Split-Path -Path $Folder -Parent
        }
        $missing
    }

    # Delete what create made and nothing else: the VHDX files it recorded, then its folders innermost
    # first, each only when empty (a folder holding another VM's files, or anybody's, stays).
    function Remove-OwnFiles {
        foreach ($vhd in $VhdPaths) {
            if (Test-Path -LiteralPath $vhd -PathType Leaf) { Remove-Item -LiteralPath $vhd -Force }
        }
        for ($i = $CreatedFolders.Count - 1; $i -ge 0; $i--) {
            $dir = $CreatedFolders[$i]
            if ((Test-Path -LiteralPath $dir -PathType Container) -and @(Get-ChildItem -LiteralPath $dir -Force).Count -eq 0) {
                Remove-Item -LiteralPath $dir
            }
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
        Get-VM -ComputerName $Owner -Id $current.VMId | Stop-VM -Force
    }

    function Start-Role {
        Get-Role | Start-ClusterGroup | Out-Null
    }

    function Get-OrphanVM {
        $folder = (Join-Path $Path $Name).ToLower()
        return @(Get-VM | Where-Object { $_.Name -eq $Name -and ([string]$_.Path).ToLower() -eq $folder }) | Select-Object -First 1
    }

    $current = Get-State
    $made = $null
    if ($Mode -eq 'Remove') {
        if ($current.Exists) {
            $vm = Get-VM -ComputerName $current.OwnerNode -Id $current.VMId
            Get-Role | Remove-ClusterGroup -RemoveResources -Force
            # Running or paused: turn it off; a saved VM is removed with its saved state as it is.
            if (@('Running', 'Paused') -contains $current.VMState) { $vm | Stop-VM -TurnOff -Force }
            $vm | Remove-VM -Force
            Remove-OwnFiles
        }
        else {
            # A VM left by an interrupted create (made on this node, never clustered): that exact name
            # in that folder.
            $orphan = Get-OrphanVM
            if ($orphan) {
                if (@('Running', 'Paused') -contains [string]$orphan.State) { $orphan | Stop-VM -TurnOff -Force }
                $orphan | Remove-VM -Force
                Remove-OwnFiles
            }
        }
        $current = [pscustomobject]@{ Exists = $false; Name = $Name }
    }
    elseif ($Mode -eq 'Set') {
        if (-not $current.Exists) {
            Assert-PathOnCsv
            $vmFolder = Join-Path $Path $Name
            # An earlier run may have created the VM and stopped before clustering it: adopt it, with
            # the files and folders New-VM makes for a VM of its own.
            $vm = Get-OrphanVM
            if ($vm) {
                $made = [pscustomobject]@{
                    Vhds    = @(@(Get-VMHardDiskDrive -VM $vm) | ForEach-Object { [string]$_.Path } | Where-Object { $_.ToLower().StartsWith(($vmFolder + '\').ToLower()) })
                    Folders = @($vmFolder, (Join-Path $vmFolder 'Virtual Hard Disks'), (Join-Path $vmFolder 'Virtual Machines'))
                }
            }
            else {
                $vhdPath = Join-Path $Path "$Name\Virtual Hard Disks\$Name.vhdx"
                # What New-VM is about to create, recorded so that delete removes exactly that.
                $folders = @(Get-MissingFolders -Folder (Join-Path $vmFolder 'Virtual Hard Disks'))
                if (-not (Test-Path -LiteralPath (Join-Path $vmFolder 'Virtual Machines'))) { $folders += (Join-Path $vmFolder 'Virtual Machines') }
                $made = [pscustomobject]@{ Vhds = @($vhdPath); Folders = $folders }
                $vm = New-VM -Name $Name -Path $Path -Generation $Generation -MemoryStartupBytes $MemoryStartupBytes -NewVHDPath $vhdPath -NewVHDSizeBytes $DiskSizeBytes -SwitchName $SwitchName
            }
            $VMId = [string]$vm.Id
            $VhdPaths = @($made.Vhds)
            $CreatedFolders = @($made.Folders)
            try {
                if ([int]$vm.ProcessorCount -ne $ProcessorCount) { $vm | Set-VMProcessor -Count $ProcessorCount }
                # The seed's rule: the adapter is connected before the VM becomes a cluster role.
                $adapter = @(Get-VMNetworkAdapter -VM $vm) | Select-Object -First 1
                if ([string]$adapter.SwitchName -ne $SwitchName) { $adapter | Connect-VMNetworkAdapter -SwitchName $SwitchName }
                Add-ClusterVirtualMachineRole -VMId $VMId -Name $Name | Out-Null
            }
            catch {
                # Nothing of this create gets recorded when it fails: take back the VM, its disk and
                # its folders (a half-made role goes with the VM), then report the failure.
                $failure = $_
                try {
                    $role = Get-Role
                    if ($role) { $role | Remove-ClusterGroup -RemoveResources -Force }
                    Get-VM -Id $VMId | Remove-VM -Force
                    Remove-OwnFiles
                } catch { }
                throw $failure
            }
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
            Set-ClusterOwnerNode -InputObject (Get-Role) -Owners $wantedOwners | Out-Null
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
            if ($current.MemoryStartupBytes -ne $MemoryStartupBytes) { Get-VM -ComputerName $owner -Id $current.VMId | Set-VMMemory -StartupBytes $MemoryStartupBytes }
            if ($current.ProcessorCount -ne $ProcessorCount) { Get-VM -ComputerName $owner -Id $current.VMId | Set-VMProcessor -Count $ProcessorCount }
        }
        if ($current.SwitchName -ne $SwitchName) {
            @(Get-VM -ComputerName $owner -Id $current.VMId | Get-VMNetworkAdapter) | Select-Object -First 1 | Connect-VMNetworkAdapter -SwitchName $SwitchName
        }
        # Owner: a running VM moves by live (or quick) migration, a stopped one is simply moved.
        $target = Get-ShortName $OwnerNode
        if ($target -and $target -ne $owner) {
            if ($running) {
                Get-Role | Move-ClusterVirtualMachineRole -Node $target -MigrationType $MigrationType | Out-Null
            } else {
                Get-Role | Move-ClusterGroup -Node $target | Out-Null
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
    if ($made) {
        # what this create made: recorded by the provider, used by delete
        $current | Add-Member -NotePropertyName CreatedVhdPaths -NotePropertyValue @($made.Vhds)
        $current | Add-Member -NotePropertyName CreatedFolders -NotePropertyValue @($made.Folders)
    }
    # A string crosses the remoting boundary unchanged (objects would come back deserialized).
    ConvertTo-Json -InputObject $current -Depth 6 -Compress
}

$json = Invoke-Command -ComputerName $env:COMPUTERNAME -Credential $credential -Authentication Credssp -ScriptBlock $work -ArgumentList $Mode, $Name, $Path, $MemoryStartupBytes, $ProcessorCount, $Generation, $DiskSizeBytes, $SwitchName, @($PreferredOwners), $OwnerNode, $State, $MigrationType, $AllowRestart, $VMId, @($VhdPaths), @($CreatedFolders)
ConvertFrom-Json -InputObject ([string]$json)
