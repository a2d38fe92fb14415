"""Emulated Windows cmdlets, one module per Windows PowerShell module family.

Importing this package registers every emulated cmdlet with the registry (registry.lookup does it).
"""
from . import (  # noqa: F401  (imported for their @cmdlet registrations)
    management,
    services,
    network,
    remoting,
    filesystem,
    iscsi_target,
    iscsi_initiator,
    storage,
    failover_clusters,
    hyperv,
    active_directory,
    netsecurity,
)
