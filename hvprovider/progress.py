"""Progress of long operations in the ``pulumi up`` display, the way native providers report it.

A native provider calls the engine's ``Log`` RPC with ``ephemeral=True`` and the resource's URN: the
display shows the message on that resource's row while the step runs (the interactive display as the
row's status; ``--non-interactive`` prints the row again with it). A Python dynamic provider can do the
same, with two facts the SDK does not hand to ``create``/``update``/``delete``:

- the engine's address: the engine starts every resource plugin with it as the first argument, and
  ``pulumi-resource-pulumi-python`` passes its arguments on to ``python -m pulumi.dynamic``;
- the URN: a field of the request being served (``base._engine_request``).

``status(message)`` is best effort: outside the provider host (unit tests, a program), or when the
engine cannot be reached, it does nothing, and it never fails an operation. Messages name hosts and
steps only, never a secret. docs/progress.md.
"""
from __future__ import annotations

import sys
import threading
from typing import Any

_lock = threading.Lock()
_stubs: dict[str, Any] = {}  # engine address -> Engine stub (module level: providers are pickled)


def _engine_address() -> str | None:
    """The engine's gRPC address when this process is the dynamic-provider host, else None."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if getattr(spec, "name", None) != "pulumi.dynamic.__main__":
        return None
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    return args[0] if args else None


def _stub(address: str) -> Any:
    import grpc
    from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
    from pulumi.runtime.proto import engine_pb2_grpc

    with _lock:
        if address not in _stubs:
            _stubs[address] = engine_pb2_grpc.EngineStub(grpc.insecure_channel(address, options=_GRPC_CHANNEL_OPTIONS))
        return _stubs[address]


def status(message: str) -> None:
    """Show ``message`` as the status of the resource whose create/update/delete is running."""
    _log(message, "INFO", ephemeral=True)


def warning(message: str) -> None:
    """A warning on the resource whose request is being served, kept in the output: ``diff`` uses it
    so that a preview says in words what a planned step will interrupt, before anything runs."""
    _log(message, "WARNING", ephemeral=False)


def _log(message: str, severity: str, ephemeral: bool) -> None:
    try:
        from pulumi.runtime.proto import engine_pb2

        from .base import _engine_request

        address = _engine_address()
        urn = getattr(_engine_request(), "urn", "") if address else ""
        if not urn:
            return
        _stub(address).Log(engine_pb2.LogRequest(severity=getattr(engine_pb2, severity), message=message, urn=urn,
                                                 ephemeral=ephemeral), timeout=5)
    except Exception:  # noqa: BLE001 - progress is a courtesy: never let it fail the operation
        return


def warning_storage_replacement(what: str, replaces: list) -> None:
    """Say in words, at preview, what replacing this storage does to the nodes that use it."""
    if replaces:
        warning(
            f"replacing {what} (because of {', '.join(replaces)}) takes its LUNs away from every node while the "
            f"step runs: a cluster disk on them (the witness, a CSV) fails until they are back. Stop the VMs on "
            f"a CSV first; a replaced volume is a new, empty disk (docs/provider.md, 'Changing storage under "
            f"connected nodes')")
