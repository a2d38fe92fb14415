# LabMachine, on the Hyper-V host: a generation 2 VM that becomes one of the lab's Windows servers.
#
# Mode Get    : the VM recorded at create (VMId) as it is now (Exists = $false when it is gone)
# Mode Set    : create it when missing, or converge memory, processors, nested virtualization,
#               adapters' switches and the power state (-State Running or Off):
#                 1. refuse, before any change, a switch that does not exist, an image that is not a
#                    VHDX, and a VM or disk of the same name that this resource did not create;
#                 2. make the VM's disk from the image (a differencing disk, or a full copy);
#                 3. mount it, check that it holds a generalized Windows (sysprep /generalize: the
#                    ImageState in Windows\Setup\State\State.ini) and write the answer file into
#                    Windows\Panther (computer name, time zone, Administrator password), dismount;
#                 4. New-VM, static memory, processors (virtualization extensions exposed and MAC
#                    address spoofing on for a nested Hyper-V host), one adapter per switch, start.
#               A failure in 2-4 removes what this run created, so nothing is left unrecorded.
#               Changing memory or processors of a running VM shuts it down first (Hyper-V needs it
#               off) and starts it again.
# Mode Remove : turn the VM off and remove it (by VMId), then the disk files create made (VhdPaths)
#               and each folder create made (CreatedFolders) once empty; never recursively.
#
# The shared parent folder (-Folder, C:\Lab) holds every machine of the lab, made in parallel: the run
# that creates it leaves a marker file in it, and whichever machine is removed last removes the folder
# (only when nothing but the marker is left). A folder that was there before gets no marker and stays.
#
# The VM is found by the Id recorded at create, never by its name: Hyper-V's -Name parameters read
# * ? [ ] as wildcards. Files and folders go by -LiteralPath. The guest's own configuration (IP
# address, DNS, WinRM) is lab_machine_guest.ps1's, through PowerShell Direct.
param(
    [string]$Mode = 'Get',
    [string]$Name,
    [string]$VMId = '',
    [string]$ImagePath = '',
    [string]$DiskMode = 'differencing',
    [string]$Folder = '',
    [string]$TimeZone = 'UTC',
    [string]$AdministratorPassword = '',
    [long]$MemoryBytes = 0,
    [int]$ProcessorCount = 2,
    [bool]$NestedVirtualization = $false,
    [string]$State = 'Running',
    $SwitchNames = @(),
    $VhdPaths = @(),
    $CreatedFolders = @()
)

$SwitchNames = @($SwitchNames | Where-Object { $_ })
$VhdPaths = @($VhdPaths | Where-Object { $_ })
$CreatedFolders = @($CreatedFolders | Where-Object { $_ })
# Written into the VM's notes at create: how a re-run after a lost answer knows the VM is its own.
$Marker = 'Created by hvprovider LabMachine'
$ReadyImageState = 'IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE'
$FolderMarker = 'created-by-hvprovider-labmachine.txt'

function Get-OwnVM {
    if (-not $VMId) { return $null }
    @(Get-VM | Where-Object { [string]$_.Id -eq $VMId }) | Select-Object -First 1
}

function Get-MachineState {
    param($VM, [string[]]$Changes = @(), [bool]$Adopted = $false, [string[]]$Folders = @(), [string[]]$Disks = @())
    if ($null -eq $VM) {
        return [pscustomobject]@{ Exists = $false; Name = $Name; Changes = @($Changes) }
    }
    $processor = Get-VMProcessor -VM $VM
    $adapters = @(Get-VMNetworkAdapter -VM $VM | ForEach-Object {
        [pscustomobject]@{
            Name               = [string]$_.Name
            SwitchName         = [string]$_.SwitchName
            MacAddress         = [string]$_.MacAddress
            MacAddressSpoofing = [string]$_.MacAddressSpoofing
        }
    })
    [pscustomobject]@{
        Exists               = $true
        VMId                 = ([string]$VM.Id).ToLower()
        Name                 = [string]$VM.Name
        State                = [string]$VM.State
        MemoryBytes          = [long]$VM.MemoryStartup
        DynamicMemory        = [bool]$VM.DynamicMemoryEnabled
        ProcessorCount       = [int]$processor.Count
        NestedVirtualization = [bool]$processor.ExposeVirtualizationExtensions
        Adapters             = $adapters
        Disks                = @(Get-VMHardDiskDrive -VM $VM | ForEach-Object { [string]$_.Path })
        Changes              = @($Changes)
        Adopted              = $Adopted
        CreatedFolders       = @($Folders)
        VhdPaths             = @($Disks)
    }
}

function Remove-EmptyFolders {
    param([string[]]$Folders)
    # deepest first; a folder that still holds anything (someone else's files) stays
    foreach ($dir in @($Folders | Sort-Object -Property Length -Descending)) {
        if ((Test-Path -LiteralPath $dir -PathType Container) -and @(Get-ChildItem -LiteralPath $dir -Force).Count -eq 0) {
            Remove-Item -LiteralPath $dir
        }
    }
}

function Remove-SharedFolder {
    # the lab's parent folder, once only the marker of the run that created it is left
    if (-not $Folder) { return }
    $marker = Join-Path $Folder $FolderMarker
    if (-not (Test-Path -LiteralPath $marker -PathType Leaf)) { return }
    $rest = @(Get-ChildItem -LiteralPath $Folder -Force | Where-Object { $_.Name -ne $FolderMarker })
    if ($rest.Count -eq 0) {
        foreach ($path in @($marker, $Folder)) {
            # the lab's machines are removed in parallel: another one's delete may take these first
            try { Remove-Item -LiteralPath $path -Force } catch { if (Test-Path -LiteralPath $path) { throw } }
        }
    }
}

function Remove-Machine {
    param($VM, [string[]]$Disks, [string[]]$Folders)
    if ($null -ne $VM) {
        if ([string]$VM.State -ne 'Off') { Stop-VM -VM $VM -TurnOff -Force }
        Remove-VM -VM $VM -Force
    }
    foreach ($vhd in $Disks) {
        if (Test-Path -LiteralPath $vhd -PathType Leaf) { Remove-Item -LiteralPath $vhd -Force }
    }
    Remove-EmptyFolders -Folders $Folders
    Remove-SharedFolder
}

# The answer file Windows Setup reads from Windows\Panther on first boot. The password is stored the
# way Windows System Image Manager hides it (base64 of UTF-16LE password + "AdministratorPassword"),
# which is encoding, not encryption: lab_machine_guest.ps1 deletes the file after first boot.
function New-AnswerFile {
    $encoded = [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($AdministratorPassword + 'AdministratorPassword'))
    $component = 'name="Microsoft-Windows-Shell-Setup" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" language="neutral" versionScope="nonSxS"'
    @(
        '<?xml version="1.0" encoding="utf-8"?>'
        '<unattend xmlns="urn:schemas-microsoft-com:unattend">'
        '  <settings pass="specialize">'
        "    <component $component>"
        "      <ComputerName>$Name</ComputerName>"
        "      <TimeZone>$TimeZone</TimeZone>"
        '    </component>'
        '  </settings>'
        '  <settings pass="oobeSystem">'
        "    <component $component>"
        '      <OOBE>'
        '        <HideEULAPage>true</HideEULAPage>'
        '        <SkipMachineOOBE>true</SkipMachineOOBE>'
        '      </OOBE>'
        '      <UserAccounts>'
        '        <AdministratorPassword>'
        "          <Value>$encoded</Value>"
        '          <PlainText>false</PlainText>'
        '        </AdministratorPassword>'
        '      </UserAccounts>'
        '    </component>'
        '  </settings>'
        '</unattend>'
    ) -join "`r`n"
}

# Mount the new disk, find its Windows volume, refuse an image that is not generalized, write the
# answer file. Always dismounts.
function Write-AnswerFile {
    param([string]$DiskPath)
    $vhd = Mount-VHD -Path $DiskPath -Passthru
    try {
        $windows = $null
        foreach ($partition in @(Get-Partition -DiskNumber $vhd.DiskNumber | Where-Object { $_.DriveLetter })) {
            $root = [string]$partition.DriveLetter + ':\'
            if (Test-Path -LiteralPath (Join-Path $root 'Windows\System32') -PathType Container) { $windows = $root; break }
        }
        if ($null -eq $windows) {
            throw "image_path: '$ImagePath' holds no Windows installation (no volume with \Windows\System32); use the disk of a Windows VM generalized with sysprep"
        }
        $stateFile = Join-Path $windows 'Windows\Setup\State\State.ini'
        $imageState = 'unknown (no Windows\Setup\State\State.ini)'
        if (Test-Path -LiteralPath $stateFile -PathType Leaf) {
            $line = @(Get-Content -LiteralPath $stateFile | Where-Object { $_ -like 'ImageState=*' }) | Select-Object -First 1
            if ($line) { $imageState = ([string]$line).Substring('ImageState='.Length).Trim() }
        }
        if ($imageState -ne $ReadyImageState) {
            throw "image_path: '$ImagePath' is not a generalized Windows image (ImageState $imageState): run 'sysprep /generalize /oobe /shutdown' in the template VM and use its disk"
        }
        $panther = Join-Path $windows 'Windows\Panther'
        if (-not (Test-Path -LiteralPath $panther -PathType Container)) { New-Item -ItemType Directory -Path $panther | Out-Null }
        # a .NET write, not Set-Content: PowerShell's module logging (event 4103) records a cmdlet's
        # parameter values, and this text holds the encoded password
        [System.IO.File]::WriteAllText((Join-Path $panther 'unattend.xml'), (New-AnswerFile))
    } finally {
        Dismount-VHD -Path $DiskPath
    }
}

function Assert-Switches {
    $switches = @(Get-VMSwitch)
    for ($i = 0; $i -lt $SwitchNames.Count; $i++) {
        if (@($switches | Where-Object { $_.Name -eq $SwitchNames[$i] }).Count -ne 1) {
            $known = (@($switches | ForEach-Object { "'" + $_.Name + "'" }) -join ', ')
            if (-not $known) { $known = 'none' }
            throw "network_adapters[$i].switch: there is no virtual switch '$($SwitchNames[$i])' on $env:COMPUTERNAME (its switches: $known)"
        }
    }
}

function New-Machine {
    $vmDir = Join-Path $Folder $Name
    $diskDir = Join-Path $vmDir 'Virtual Hard Disks'
    $diskPath = Join-Path $diskDir ($Name + '.vhdx')
    if (-not (Test-Path -LiteralPath $ImagePath -PathType Leaf)) {
        throw "image_path: '$ImagePath' does not exist on $env:COMPUTERNAME"
    }
    $image = Get-VHD -Path $ImagePath
    if ([string]$image.VhdFormat -ne 'VHDX') {
        throw "image_path: '$ImagePath' is a $($image.VhdFormat) file; a generation 2 VM boots from a VHDX"
    }
    Assert-Switches
    if (Test-Path -LiteralPath $diskPath) {
        throw "$diskPath already exists and this resource did not create it: remove it or choose another name or folder"
    }
    # every folder of this machine this run brings into being (New-VM -Path makes <Folder>\<Name>\Virtual
    # Machines); the shared parent is marked instead (see the header)
    $folders = @(@($vmDir, $diskDir, (Join-Path $vmDir 'Virtual Machines')) | Where-Object { -not (Test-Path -LiteralPath $_) })
    $newParent = -not (Test-Path -LiteralPath $Folder)
    $vm = $null
    $disks = @()
    try {
        New-Item -ItemType Directory -Path $diskDir -Force | Out-Null
        if ($newParent) {
            Set-Content -LiteralPath (Join-Path $Folder $FolderMarker) -Value 'This folder was created by hvprovider (LabMachine) for the lab machines in it. It is removed with the last of them.' -Encoding ASCII
        }
        if ($DiskMode -eq 'copy') {
            Copy-Item -LiteralPath $ImagePath -Destination $diskPath
        } else {
            New-VHD -Path $diskPath -ParentPath $ImagePath -Differencing | Out-Null
        }
        $disks = @($diskPath)
        Write-AnswerFile -DiskPath $diskPath
        $vm = New-VM -Name $Name -Generation 2 -MemoryStartupBytes $MemoryBytes -VHDPath $diskPath -Path $Folder -SwitchName $SwitchNames[0]
        Set-VM -VM $vm -Notes ($Marker + "`r`nFolders: " + ($folders -join '|'))
        Set-VMMemory -VM $vm -DynamicMemoryEnabled $false -StartupBytes $MemoryBytes
        Set-VMProcessor -VM $vm -Count $ProcessorCount -ExposeVirtualizationExtensions $NestedVirtualization
        for ($i = 1; $i -lt $SwitchNames.Count; $i++) {
            Add-VMNetworkAdapter -VM $vm -SwitchName $SwitchNames[$i] -Name ('Network Adapter ' + ($i + 1))
        }
        if ($NestedVirtualization) {
            # nested VMs' traffic leaves through this VM's adapters with their own MAC addresses
            Get-VMNetworkAdapter -VM $vm | Set-VMNetworkAdapter -MacAddressSpoofing On
        }
        Start-VM -VM $vm
    } catch {
        $failure = $_
        Remove-Machine -VM $vm -Disks $disks -Folders $folders
        throw $failure
    }
    $vm = Get-VM -Id $vm.Id
    Get-MachineState -VM $vm -Changes @("created VM $Name from $ImagePath ($DiskMode disk)", 'started (first boot)') -Folders $folders -Disks $disks
}

# A VM of this name that an earlier run created but whose answer never arrived: its notes carry the
# marker and the folders that run created.
function Find-Unrecorded {
    $same = @(Get-VM | Where-Object { $_.Name -eq $Name })
    foreach ($vm in $same) {
        $notes = [string]$vm.Notes
        if ($notes.StartsWith($Marker)) {
            $folders = @()
            $line = @($notes -split "`r`n" | Where-Object { $_ -like 'Folders: *' }) | Select-Object -First 1
            if ($line) { $folders = @(([string]$line).Substring('Folders: '.Length) -split '\|' | Where-Object { $_ }) }
            return [pscustomobject]@{ VM = $vm; Folders = $folders }
        }
    }
    if ($same.Count -gt 0) {
        throw "a VM named '$Name' already exists on $env:COMPUTERNAME (Id $($same[0].Id)) and this resource did not create it: remove or rename it, or choose another name"
    }
    return $null
}

function Update-Machine {
    param($VM)
    $changes = @()
    $processor = Get-VMProcessor -VM $VM
    $needsOff = ([long]$VM.MemoryStartup -ne $MemoryBytes) -or [bool]$VM.DynamicMemoryEnabled -or
                ([int]$processor.Count -ne $ProcessorCount) -or
                ([bool]$processor.ExposeVirtualizationExtensions -ne $NestedVirtualization)
    Assert-Switches
    if ($needsOff) {
        if ([string]$VM.State -ne 'Off') {
            Stop-VM -VM $VM -Force
            $changes += 'shut down to change memory or processors'
            $VM = Get-VM -Id $VM.Id
        }
        Set-VMMemory -VM $VM -DynamicMemoryEnabled $false -StartupBytes $MemoryBytes
        Set-VMProcessor -VM $VM -Count $ProcessorCount -ExposeVirtualizationExtensions $NestedVirtualization
        $changes += "memory $MemoryBytes bytes, $ProcessorCount processors, nested virtualization $NestedVirtualization"
    }
    $adapters = @(Get-VMNetworkAdapter -VM $VM)
    for ($i = 0; $i -lt [Math]::Min($adapters.Count, $SwitchNames.Count); $i++) {
        if ([string]$adapters[$i].SwitchName -ne $SwitchNames[$i]) {
            Connect-VMNetworkAdapter -VMNetworkAdapter $adapters[$i] -SwitchName $SwitchNames[$i]
            $changes += "adapter $($i + 1) connected to $($SwitchNames[$i])"
        }
        $spoofing = if ($NestedVirtualization) { 'On' } else { 'Off' }
        if ([string]$adapters[$i].MacAddressSpoofing -ne $spoofing) {
            Set-VMNetworkAdapter -VMNetworkAdapter $adapters[$i] -MacAddressSpoofing $spoofing
            $changes += "adapter $($i + 1) MAC address spoofing $spoofing"
        }
    }
    $VM = Get-VM -Id $VM.Id
    if ($State -eq 'Running' -and [string]$VM.State -ne 'Running') {
        Start-VM -VM $VM
        $changes += 'started'
    }
    if ($State -eq 'Off' -and [string]$VM.State -ne 'Off') {
        Stop-VM -VM $VM -Force
        $changes += 'shut down'
    }
    return $changes
}

$vm = Get-OwnVM

if ($Mode -eq 'Get') { return (Get-MachineState -VM $vm -Folders $CreatedFolders -Disks $VhdPaths) }

if ($Mode -eq 'Remove') {
    Remove-Machine -VM $vm -Disks $VhdPaths -Folders $CreatedFolders
    return (Get-MachineState -VM $null -Changes @('removed'))
}

# Mode Set
if ($null -eq $vm) {
    $found = Find-Unrecorded
    if ($null -eq $found) { return (New-Machine) }
    $vm = $found.VM
    $CreatedFolders = $found.Folders
    $VhdPaths = @(Get-VMHardDiskDrive -VM $vm | ForEach-Object { [string]$_.Path } | Where-Object { $_.StartsWith((Join-Path $Folder $Name) + '\') })
    $changes = @(Update-Machine -VM $vm)
    return (Get-MachineState -VM (Get-VM -Id $vm.Id) -Changes (@('adopted the VM an earlier run created') + $changes) -Adopted $true -Folders $CreatedFolders -Disks $VhdPaths)
}
$changes = @(Update-Machine -VM $vm)
Get-MachineState -VM (Get-VM -Id $vm.Id) -Changes $changes -Folders $CreatedFolders -Disks $VhdPaths
