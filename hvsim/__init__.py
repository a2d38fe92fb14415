"""hvsim: a simulated Hyper-V failover-cluster lab that real WinRM clients talk to.

Layers (each imports only the ones below): protocol -> powershell -> cmdlets -> world.
See docs/DESIGN.md.
"""
