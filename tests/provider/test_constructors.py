"""One constructor convention for the seven resources and ClusterLab, their type tokens, and what ClusterLab
exposes to build on. Runs the program side under Pulumi's mocks (no engine, no WinRM): what is checked
is what the program registers."""
import inspect

import pulumi
import pytest

from hvprovider import (ClusterLab, ClusterLabArgs, ClusterNode, ClusterNodeArgs, ConnectionArgs, FailoverCluster,
                        FailoverClusterArgs, HighlyAvailableVM, HighlyAvailableVMArgs, IscsiTarget, IscsiTargetArgs,
                        IscsiVolume, IscsiVolumeArgs, LabHost, LabNode, LabVM, LabVolume, NodeStorage, NodeStorageArgs,
                        SharedVolume, SharedVolumeArgs)
from hvprovider.errors import ArgumentError

RESOURCES = [(IscsiTarget, IscsiTargetArgs), (IscsiVolume, IscsiVolumeArgs), (ClusterNode, ClusterNodeArgs),
             (NodeStorage, NodeStorageArgs),              (FailoverCluster, FailoverClusterArgs), (SharedVolume, SharedVolumeArgs),
             (HighlyAvailableVM, HighlyAvailableVMArgs)]


class Recorder(pulumi.runtime.Mocks):
    """Every registered resource: its type token, name and inputs; outputs = inputs + a fake serial."""

    def __init__(self):
        self.registered = []

    def new_resource(self, args):
        self.registered.append(args)
        outs = dict(args.inputs)
        outs.pop("__provider", None)
        if args.typ.endswith(":IscsiVolume"):
            outs["serial_number"] = f"SER-{args.name}"
        if args.typ.endswith(":IscsiTarget"):
            outs["target_iqn"] = f"iqn.1991-05.com.microsoft:dc01-{args.inputs.get('target_name')}-target"
        if args.typ.endswith(":SharedVolume"):
            outs["path"] = "C:\\ClusterStorage\\Volume1"
        outs.update(getattr(self, "extra", {}).get(args.name, {}))
        return f"{args.name}-id", outs

    def call(self, args):
        return {}

    def of(self, name):
        [found] = [r for r in self.registered if r.name == name]
        return found


@pytest.fixture
def mocks():
    recorder = Recorder()
    pulumi.runtime.set_mocks(recorder, preview=False)
    yield recorder


CONN = ConnectionArgs(host="127.0.10.11", username="HV01\\Administrator", password="pw")


@pytest.mark.parametrize("resource,args", RESOURCES, ids=[r.__name__ for r, _ in RESOURCES])
def test_args_are_the_spec(resource, args):
    """The Args class is the SPEC table as a typed signature: the same names, no default of its own
    (an unset argument is None and takes the SPEC's default), required ones without a default."""
    spec = {p.name: p for p in resource.PROVIDER.SPEC}
    params = dict(list(inspect.signature(args.__init__).parameters.items())[1:])
    assert list(params) == [n for n in params if n in spec] and set(params) == set(spec)
    for name, param in params.items():
        if spec[name].required:
            assert param.default is inspect.Parameter.empty, name
        else:
            assert param.default is None, name


@pytest.mark.parametrize("resource,args", RESOURCES, ids=[r.__name__ for r, _ in RESOURCES])
def test_the_docs_name_every_input(resource, args):
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs"
    text = (docs / "provider.md").read_text(encoding="utf-8") + (docs / "provider-cluster.md").read_text(encoding="utf-8")
    section = text[text.index(f"## {resource.__name__}"):]
    section = section[:section.find("\n## ", 4)]
    missing = [p.name for p in resource.PROVIDER.SPEC if f"`{p.name}`" not in section]
    assert missing == [], f"docs section ## {resource.__name__} does not name {missing}"


@pytest.mark.parametrize("resource,args", RESOURCES, ids=[r.__name__ for r, _ in RESOURCES])
def test_every_resource_has_its_own_type_token_and_the_legacy_alias(resource, args):
    assert resource._resource_type_name == f"dynamic/hvprovider:{resource.__name__}"


@pytest.mark.parametrize("resource,args", RESOURCES, ids=[r.__name__ for r, _ in RESOURCES])
def test_an_unknown_keyword_is_a_clear_error(resource, args):
    with pytest.raises(ArgumentError) as info:
        resource("x", connection=CONN, colour="blue")
    message = str(info.value)
    assert f"{resource.__name__}: unknown argument(s) colour; allowed: connection" in message
    assert isinstance(info.value, pulumi.RunError)       # shown as its message, without a traceback


@pulumi.runtime.test
def test_args_object_and_keywords_register_the_same(mocks):
    made = [SharedVolume("by-args", SharedVolumeArgs(connection=CONN, cluster_name="CLUSTER1", disk_serial="S1")),
            SharedVolume("by-keywords", connection=CONN, cluster_name="CLUSTER1", disk_serial="S1"),
            SharedVolume("both", SharedVolumeArgs(connection=CONN, cluster_name="CLUSTER1", disk_serial="S1"),
                         label="Data")]
    target = IscsiTarget("target", connection=CONN, target_name="cluster", initiator_ids=["DNSName:hv01.hyper.local"])

    def check(_):
        a, k, both = mocks.of("by-args"), mocks.of("by-keywords"), mocks.of("both")
        assert a.typ == k.typ == "pulumi-python:dynamic/hvprovider:SharedVolume"
        inputs = {n: v for n, v in a.inputs.items() if n != "__provider"}
        assert inputs == {n: v for n, v in k.inputs.items() if n != "__provider"}
        assert inputs["disk_serial"] == "S1" and both.inputs["label"] == "Data"
        assert mocks.of("target").typ == "pulumi-python:dynamic/hvprovider:IscsiTarget"

    # wait for every registration, not only the target's (they finish in any order)
    return pulumi.Output.all(target.target_iqn, *(v.urn for v in made)).apply(check)


def lab_args(**over):
    conn = {"host": "127.0.10.10", "username": "u", "password": "p"}
    fields = dict(
        storage_host=LabHost("DC01", conn, address="192.168.10.10"),
        nodes=[LabNode("HV01", {**conn, "host": "127.0.10.11"}, vm_nic="Ethernet 2"),
               LabNode("HV02", {**conn, "host": "127.0.10.12"}, vm_nic="Ethernet 2")],
        domain_fqdn="hyper.local", domain_username="HYPER\\Administrator", domain_password="d",
        cluster_name="CLUSTER1", cluster_address="192.168.10.20", vm=LabVM(owner_node="HV01"))
    return ClusterLabArgs(**{**fields, **over})


@pulumi.runtime.test
def test_cluster_lab_takes_more_volumes_and_vms_and_exposes_its_parts(mocks):
    lab = ClusterLab("seed", lab_args(extra_volumes=[LabVolume("data", "2GB")],
                                      extra_vms=[LabVM(name="Web", owner_node="HV02", state="Off")]))
    assert isinstance(lab.target, IscsiTarget) and isinstance(lab.cluster, FailoverCluster)
    assert isinstance(lab.shared_volume, SharedVolume) and [type(n) for n in lab.nodes] == [ClusterNode] * 2
    assert [type(n) for n in lab.node_storage] == [NodeStorage] * 2
    assert lab.vm is lab.vms[0] and len(lab.vms) == 2 and isinstance(lab.extra_volumes["data"], IscsiVolume)

    def check(_):
        data = mocks.of("seed-volume-data")
        assert data.inputs["path"] == "C:\\iSCSIVirtualDisks\\cluster1-data.vhdx"
        assert data.inputs["size_bytes"] == "2GB"
        for node in ("seed-hv01", "seed-hv02"):    # every node brings the extra LUN online, through its NodeStorage
            assert mocks.of(f"{node}-storage").inputs["disk_serial_numbers"] == ["SER-seed-quorum", "SER-seed-storage",
                                                                                  "SER-seed-volume-data"]
            assert mocks.of(f"{node}-storage").inputs["target_iqns"] == ["iqn.1991-05.com.microsoft:dc01-cluster-target"]
            # the node itself takes nothing from the storage: it does not wait for it
            prepared = mocks.of(node).inputs
            assert prepared["attach_storage"] is False
            assert not {"target_iqns", "disk_serial_numbers", "disk_sizes", "target_portal_address"} & set(prepared)
        web = mocks.of("seed-vm-web")
        assert web.inputs["owner_node"] == "HV02" and web.inputs["state"] == "Off"
        assert web.inputs["cluster_nodes"] == ["HV01", "HV02"] and web.inputs["path"] == "C:\\ClusterStorage\\Volume1"
        assert mocks.of("seed").typ == "hvprovider:lab:ClusterLab"

    return pulumi.Output.all(*(n.disk_serial_numbers for n in lab.node_storage), *(n.urn for n in lab.nodes),
                             lab.vms[1].owner_node).apply(check)


@pulumi.runtime.test
def test_cluster_lab_takes_keywords_too(mocks):
    args = lab_args()
    lab = ClusterLab("kw", **{f: getattr(args, f) for f in args.__dataclass_fields__})
    return lab.target.target_name.apply(lambda name: (lambda: None)())


def test_cluster_lab_argument_mistakes_are_named():
    with pytest.raises(ArgumentError, match=r"ClusterLab 'x': unknown argument\(s\) colour; allowed: storage_host"):
        ClusterLab("x", lab_args(), colour="blue")
    with pytest.raises(ArgumentError, match=r"ClusterLab 'x': missing argument\(s\) storage_host, nodes"):
        ClusterLab("x", cluster_name="C1")
    with pytest.raises(ArgumentError) as info:
        ClusterLab("x", lab_args(vm=LabVM(owner_node="HV03"), extra_vms=[LabVM(name="testvm")]))
    assert "vm.owner_node: 'HV03' is not a node of the lab" in str(info.value)
    assert "extra_vms[0].name: 'testvm' is the name of another VM of the lab" in str(info.value)


@pulumi.runtime.test
def test_whole_numbers_in_list_outputs_are_ints(mocks):
    """The engine's numbers are floats; the typed outputs give the program ints (no 2.0)."""
    node = ClusterNode("node", connection=CONN)
    mocks.extra = {"node": {"disks": [{"serial_number": "S1", "unique_id": "U1", "number": 2.0}]}}

    def check_disks(disks):
        # (read through the output itself: Output.all would copy an output type into a plain dict)
        assert disks[0]["number"] == 2 and type(disks[0]["number"]) is int and disks[0].number == 2
        assert f"{disks[0]['number']}" == "2" and disks[0]["serial_number"] == "S1"

    return node.disks.apply(check_disks)
