"""shared_volume.ps1 through the real transport on a fresh hvsim lab (no cluster yet): delete and
refresh of a CSV whose cluster is gone succeed as 'missing', creation is refused with a clear message."""
import pytest

from hvprovider import transport
from hvprovider.connection import ConnectionArgs
from hvprovider.errors import RemoteScriptError


def test_no_cluster_means_no_csv(hvsim_lab):
    ep = hvsim_lab.host_endpoint("HV01")
    user, password = hvsim_lab.credentials("HV01")
    conn = ConnectionArgs(host=ep["address"], port=ep["http_port"], username=user, password=password)
    params = {"ClusterName": "CLUSTER1", "DiskSerial": "NO-SUCH-SERIAL", "Label": "CSV", "DiskWaitSeconds": 0}
    for mode in ("Remove", "Get"):
        state = transport.run_script(conn, "shared_volume.ps1", {"Mode": mode, **params})
        assert (state["Placement"], state["Exists"]) == ("NoCluster", False)
    with pytest.raises(RemoteScriptError, match="HV01 is not a member of a failover cluster"):
        transport.run_script(conn, "shared_volume.ps1", {"Mode": "Set", **params})
