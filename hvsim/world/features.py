"""Windows features known to the simulated ServerManager (Get/Install/Uninstall-WindowsFeature).

Facts from Microsoft's ServerManager documentation and Windows Server 2016-2022 feature lists:
Name, DisplayName, FeatureType (Role / Role Service / Feature), Parent, which sub-features
`-IncludeManagementTools` adds, and whether installing needs a restart (Hyper-V always does; a restart
for Failover-Clustering is not required on Windows Server).
"""
from __future__ import annotations

# name: (display name, feature type, parent, management tools, restart needed on install)
FEATURES: dict[str, tuple[str, str, str | None, tuple[str, ...], bool]] = {
    "AD-Domain-Services": ("Active Directory Domain Services", "Role", None, ("RSAT-AD-Tools", "RSAT-AD-PowerShell", "RSAT-ADDS"), False),
    "DNS": ("DNS Server", "Role", None, ("RSAT-DNS-Server",), False),
    "FileAndStorage-Services": ("File and Storage Services", "Role", None, (), False),
    "File-Services": ("File and iSCSI Services", "Role Service", "FileAndStorage-Services", (), False),
    "FS-FileServer": ("File Server", "Role Service", "File-Services", (), False),
    "FS-iSCSITarget-Server": ("iSCSI Target Server", "Role Service", "File-Services", (), False),
    "Storage-Services": ("Storage Services", "Role Service", "FileAndStorage-Services", (), False),
    "Hyper-V": ("Hyper-V", "Role", None, ("RSAT-Hyper-V-Tools", "Hyper-V-Tools", "Hyper-V-PowerShell"), True),
    "Failover-Clustering": ("Failover Clustering", "Feature", None, ("RSAT-Clustering", "RSAT-Clustering-Mgmt", "RSAT-Clustering-PowerShell"), False),
    "Multipath-IO": ("Multipath I/O", "Feature", None, (), True),
    "RSAT": ("Remote Server Administration Tools", "Feature", None, (), False),
    "RSAT-Feature-Tools": ("Feature Administration Tools", "Feature", "RSAT", (), False),
    "RSAT-Clustering": ("Failover Clustering Tools", "Feature", "RSAT-Feature-Tools", (), False),
    "RSAT-Clustering-Mgmt": ("Failover Cluster Management Tools", "Feature", "RSAT-Clustering", (), False),
    "RSAT-Clustering-PowerShell": ("Failover Cluster Module for Windows PowerShell", "Feature", "RSAT-Clustering", (), False),
    "RSAT-Role-Tools": ("Role Administration Tools", "Feature", "RSAT", (), False),
    "RSAT-Hyper-V-Tools": ("Hyper-V Management Tools", "Feature", "RSAT-Role-Tools", (), False),
    "Hyper-V-Tools": ("Hyper-V GUI Management Tools", "Feature", "RSAT-Hyper-V-Tools", (), False),
    "Hyper-V-PowerShell": ("Hyper-V Module for Windows PowerShell", "Feature", "RSAT-Hyper-V-Tools", (), False),
    "RSAT-AD-Tools": ("AD DS and AD LDS Tools", "Feature", "RSAT-Role-Tools", (), False),
    "RSAT-AD-PowerShell": ("Active Directory module for Windows PowerShell", "Feature", "RSAT-AD-Tools", (), False),
    "RSAT-ADDS": ("AD DS Tools", "Feature", "RSAT-AD-Tools", (), False),
    "RSAT-DNS-Server": ("DNS Server Tools", "Feature", "RSAT-Role-Tools", (), False),
    "PowerShellRoot": ("Windows PowerShell", "Feature", None, (), False),
    "PowerShell": ("Windows PowerShell 5.1", "Feature", "PowerShellRoot", (), False),
    "WoW64-Support": ("WoW64 Support", "Feature", None, (), True),
}

# Installed on every simulated host regardless of the lab file.
BASE_FEATURES = ("FileAndStorage-Services", "Storage-Services", "PowerShellRoot", "PowerShell", "WoW64-Support")

# Services that a feature brings, with their defaults once the feature is installed (after a restart
# where one is needed): name -> (display name, start type).
FEATURE_SERVICES: dict[str, dict[str, tuple[str, str]]] = {
    "Hyper-V": {"vmms": ("Hyper-V Virtual Machine Management", "Automatic")},
    "Failover-Clustering": {"ClusSvc": ("Cluster Service", "Manual")},
    "FS-iSCSITarget-Server": {"WinTarget": ("Microsoft iSCSI Software Target", "Automatic")},
    "AD-Domain-Services": {"NTDS": ("Active Directory Domain Services", "Automatic")},
    "DNS": {"DNS": ("DNS Server", "Automatic")},
}

# Services present on every host: name -> (display name, start type, status at boot).
BASE_SERVICES: dict[str, tuple[str, str]] = {
    "WinRM": ("Windows Remote Management (WS-Management)", "Automatic"),
    "MSiSCSI": ("Microsoft iSCSI Initiator Service", "Manual"),
    "LanmanServer": ("Server", "Automatic"),
    "W32Time": ("Windows Time", "Manual"),
}


def known(name: str) -> str | None:
    """Canonical feature name for `name` (case-insensitive), or None."""
    for key in FEATURES:
        if key.lower() == name.lower():
            return key
    return None
