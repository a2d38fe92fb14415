"""Shared plumbing of the hvprovider dynamic providers: check from the spec, diff from a table,
outputs = inputs + computed facts, refresh that reports drift in the inputs' own vocabulary.

A resource module declares:

    class IscsiTargetProvider(HvProvider):
        RESOURCE = "IscsiTarget"
        SPEC = (CONNECTION_PROP, Prop("name", ..., on_change="replace"), Prop("initiator_ids", ...), ...)
        OUTPUTS = ("target_iqn", "adopted", ...)       # computed outputs (not inputs)
        DELETE_BEFORE_REPLACE = False                   # True when a replacement reuses the same Windows name
        SCRIPT = "iscsi_target.ps1"                     # its Get/Set/Remove script (run_mode runs it)

        def make_id(self, inputs) -> str                # stable id, e.g. "127.0.10.10/iscsi-target/quorum"
        def ensure(self, inputs, olds) -> dict          # create/update: make the host match; return observed + computed
        def observe(self, id, outputs) -> dict | None   # refresh: current facts (None = the object is gone)
        def remove(self, id, outputs) -> None           # delete: idempotent, missing is success (default:
                                                        #   run_mode(outputs, "Remove"))
        def script_params(self, props, mode) -> dict    # SCRIPT's parameters for -Mode Get | Set | Remove
        def check_more(self, olds, news) -> list[CheckFailure]   # cross-property / transition rules

and an ``HvResource`` subclass that names it (``PROVIDER = IscsiTargetProvider``) and types its outputs:
it takes ``(name, args=None, opts=None, **kwargs)``, has its own type token
``pulumi-python:dynamic/hvprovider:<Class>`` (aliased to the old ``pulumi-python:dynamic:Resource``),
marks ``connection`` and every ``Prop(secret=True)`` secret and declares the output placeholders.
``check`` hands the engine each failure as "path: reason" (``engine_failure``).

``diff`` is the table in ``SPEC``: every input property with ``on_change`` 'update' or 'replace'
(``'ignore'`` never diffs; a ``dict`` property with ``replace_fields`` replaces only when one of those
sub-fields changes). Values compare after normalization (integral floats -> int, case-insensitive and
unordered where declared). An unknown value during preview counts as a change (and as a replacement
for 'replace' properties). A resource whose ``diff`` needs more calls ``self.diff_with(olds, news, equal=...,
replace_when_known=...)`` (node names compared by short name, replacements decided once a value
from another resource is known). ``describe_diff(spec, olds, news)`` returns the same decision as data
(tests and docs use it).

``read`` returns the old outputs overlaid with what ``observe`` found, and the same values as the
resource's inputs (``ReadResult.inputs``): the engine stores them, so a property that drifted on the
host (a disconnected iSCSI target, a VM that failed over) shows in ``pulumi refresh`` and in the next
``pulumi preview --diff`` as that property's change (``owner_node: "HV01" => "HV02"``), and the next
``up`` repairs it.

What a preview knows: the Python dynamic provider does not support provider previews, so for an update
the engine hands the program the resource's *checked inputs* as its outputs; every other output is
unknown until the update ran. ``check`` therefore also returns, as inputs, the values a preview may
rely on: ``derived_inputs`` (computed from the inputs alone, e.g. ClusterNode.delete_policy) and the
``KEPT_OUTPUTS`` (outputs that only a change of the named inputs can change, e.g. a target's IQN), taken
from the old outputs the engine sends with Check. docs/provider.md, "Outputs, refresh and preview".
Providers hold no sessions, sockets, locks or secrets as attributes: they are pickled into the state.
"""
from __future__ import annotations

import functools
import os
import sys
import traceback
import types
from typing import Any, Callable, ClassVar, Mapping, Sequence

import pulumi
from pulumi.dynamic import (CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, Resource,
                            ResourceProvider, UpdateResult)

from .connection import ConnectionArgs
from .errors import ArgumentError, ConnectionFailedError, HvProviderError
from .validation import Prop, contains_unknown, is_unknown, validate

PROVIDER_KEY = "__provider"


def _install_concise_errors() -> None:
    """Show our errors as their one-line message instead of a Python traceback.

    The dynamic-provider host (``python -m pulumi.dynamic``) reports every exception with
    ``traceback.format_exc()``. Our errors (``errors.HvProviderError``) already say what happened,
    where, and what to do, so for them alone it reports ``<ErrorClass>: <message>``; any other
    exception (a bug) keeps its full traceback. ``HVPROVIDER_TRACEBACKS=1`` keeps tracebacks for all.
    Only done inside the provider host process; nothing changes when this module is imported elsewhere.
    """
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if main is None or getattr(spec, "name", None) != "pulumi.dynamic.__main__" or os.environ.get("HVPROVIDER_TRACEBACKS"):
        return
    if not isinstance(getattr(main, "traceback", None), types.ModuleType):
        return  # the SDK changed: leave it alone

    def format_exc(*args: Any, **kwargs: Any) -> str:
        exc = sys.exc_info()[1]
        if isinstance(exc, HvProviderError):
            return f"{type(exc).__name__}: {exc}"
        return traceback.format_exc(*args, **kwargs)

    shim = types.ModuleType("traceback")
    shim.__dict__.update(traceback.__dict__)
    shim.format_exc = format_exc  # type: ignore[attr-defined]
    main.traceback = shim  # type: ignore[attr-defined]


def normalize(prop: Prop | None, value: Any) -> Any:
    """The comparable form of a value under ``prop``'s rules."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return value.lower() if prop is not None and prop.case_insensitive else value
    if isinstance(value, (list, tuple)):
        items = [normalize(prop, v) for v in value]
        if prop is not None and prop.unordered:
            return sorted(items, key=lambda x: repr(x))
        return items
    if isinstance(value, Mapping):
        fields = {f.name: f for f in (prop.fields if prop is not None else ())}
        return {k: normalize(fields.get(k), v) for k, v in value.items() if v is not None and not k.startswith("__")}
    return value


def _dict_changes(prop: Prop, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> tuple[bool, bool]:
    """(changed, needs_replace) for a dict property with sub-fields."""
    old = old or {}
    fields = {f.name: f for f in prop.fields}
    changed = replace = False
    for key in set(old) | set(new):
        if key.startswith("__"):
            continue
        o, n = old.get(key), new.get(key)
        if contains_unknown(n):
            same = False
        else:
            same = normalize(fields.get(key), o) == normalize(fields.get(key), n)
        if not same:
            changed = True
            if key in prop.replace_fields:
                replace = True
    return changed, replace


def describe_diff(spec: tuple[Prop, ...], olds: Mapping[str, Any], news: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(changed properties, properties that force replacement) between old outputs and new inputs."""
    changes: list[str] = []
    replaces: list[str] = []
    for prop in spec:
        if prop.on_change == "ignore":
            continue
        old, new = olds.get(prop.name), news.get(prop.name)
        if prop.kind == "dict" and prop.fields and isinstance(new, Mapping):
            changed, replace = _dict_changes(prop, old if isinstance(old, Mapping) else None, new)
            replace = replace or (changed and prop.on_change == "replace")
        else:
            changed = contains_unknown(new) or normalize(prop, old) != normalize(prop, new)
            replace = changed and prop.on_change == "replace"
        if changed:
            changes.append(prop.name)
            if replace:
                replaces.append(prop.name)
    return changes, replaces


def whole_numbers(value: Any) -> Any:
    """``value`` with every integral float made an int (the engine's numbers are floats), recursively."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: whole_numbers(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [whole_numbers(v) for v in value]
    return value


def engine_failure(failure: CheckFailure) -> CheckFailure:
    """A check failure as the engine shows it best: the property path leads the reason.

    The engine prints a failure that names a property as ``property P value V has a problem: R``, V
    looked up as a top-level input: a nested path (``connection.port``, ``initiator_ids[1]``) or a
    missing input prints ``value {<nil>}``, a number ``{1.073741824e+09}``. Without a property it prints
    ``resource 'x' has a problem: R``, so R = "P: reason" names the property exactly as written.
    ``validation.failures_by_property`` reads it back."""
    return CheckFailure("", f"{failure.property}: {failure.reason}") if failure.property else failure
def _winrm_operation(method: Callable) -> Callable:
    """Runs a provider call inside transport.operation(): the WinRM shells it opens are deleted on
    the hosts when it ends, on success and on every error (the engine kills this process later)."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from . import transport  # imported late: check and diff never need WinRM

        with transport.operation():
            return method(*args, **kwargs)

    return wrapper


class HvProvider(ResourceProvider):
    """Base of every hvprovider dynamic provider (see the module docstring)."""

    RESOURCE: ClassVar[str] = ""
    SPEC: ClassVar[tuple[Prop, ...]] = ()
    OUTPUTS: ClassVar[tuple[str, ...]] = ()
    DELETE_BEFORE_REPLACE: ClassVar[bool] = False
    SCRIPT: ClassVar[str] = ""  # the resource's scripts/<SCRIPT>, run with -Mode Get | Set | Remove
    # (noun, name property): a replacement of this resource interrupts what others use (storage under
    # connected nodes); diff says so in words at preview (progress.warning_storage_replacement)
    REPLACEMENT_WARNING: ClassVar[tuple[str, str] | None] = None
    # output -> the inputs whose change alone can change it; check carries the old value forward while
    # they are unchanged, so a preview of an update still knows it (e.g. {"target_iqn": ("connection", "target_name")})
    KEPT_OUTPUTS: ClassVar[Mapping[str, tuple[str, ...]]] = {}

    # -- hooks -----------------------------------------------------------------------------
    def check_more(self, olds: dict, news: dict) -> list[CheckFailure]:
        return []

    def make_id(self, inputs: dict) -> str:
        raise NotImplementedError

    def ensure(self, inputs: dict, olds: dict | None) -> dict:
        raise NotImplementedError

    def observe(self, id: str, outputs: dict) -> dict | None:
        raise NotImplementedError

    def remove(self, id: str, outputs: dict) -> None:
        """Default: SCRIPT with -Mode Remove (idempotent: a missing object is success)."""
        self.run_mode(outputs, "Remove")

    def derived_inputs(self, inputs: dict) -> dict:
        """Outputs computed from the (fully known) inputs alone; check returns them with the inputs so
        that a preview shows them (default: none)."""
        return {}

    def script_params(self, props: Mapping[str, Any], mode: str) -> dict:
        """SCRIPT's parameters for ``mode`` from inputs (create/update) or outputs (read/delete)."""
        raise NotImplementedError

    def run_mode(self, props: Mapping[str, Any], mode: str) -> dict:
        """Run SCRIPT with ``script_params(props, mode)`` on the host of ``props['connection']`` (or,
        when it does not answer, of the first ``alternate_connections`` entry that does); returns the
        state record it emitted."""
        from . import transport  # imported late: check and diff never need WinRM

        connections = [props["connection"], *(props.get("alternate_connections") or [])]
        return transport.run_script_any(connections, self.SCRIPT, self.script_params(props, mode))

    # -- helpers ---------------------------------------------------------------------------
    @classmethod
    def input_names(cls) -> tuple[str, ...]:
        return tuple(p.name for p in cls.SPEC)

    @classmethod
    def inputs_of(cls, props: Mapping[str, Any]) -> dict:
        """Only the declared inputs of a props/outputs dict."""
        return {p.name: props.get(p.name) for p in cls.SPEC}

    @classmethod
    def outputs(cls, inputs: Mapping[str, Any], computed: Mapping[str, Any]) -> dict:
        """Every input plus the computed facts (computed values win for drift-observed inputs)."""
        outs = {k: v for k, v in inputs.items() if not k.startswith("__")}
        outs.update(computed)
        for name in cls.OUTPUTS:
            outs.setdefault(name, None)
        return outs

    # -- the ResourceProvider interface ----------------------------------------------------
    def check(self, _olds: dict, news: dict) -> CheckResult:
        inputs, failures = validate(self.SPEC, news, ignore=self.OUTPUTS)
        if not failures:
            # the engine hands old numbers back as floats: 1073741824.0 must read 1073741824 in messages
            failures.extend(self.check_more(whole_numbers(_olds or {}), inputs))
        # computed outputs are never inputs: drop their placeholders
        for name in self.OUTPUTS:
            inputs.pop(name, None)
        if not failures:
            # old inputs stand in where the engine sent no old outputs (they carry what an earlier check kept)
            old_outputs = _engine_request_properties("old_outputs") or _olds or {}
            inputs.update(self.known_outputs(inputs, _olds or {}, old_outputs))
        return CheckResult(inputs, [engine_failure(f) for f in failures])

    def known_outputs(self, inputs: Mapping[str, Any], olds: Mapping[str, Any], old_outputs: Mapping[str, Any]) -> dict:
        """The outputs that ``inputs`` already decide: ``derived_inputs`` once every input is known, and
        each ``KEPT_OUTPUTS`` value of the old outputs while the inputs it depends on are unchanged."""
        known = {} if contains_unknown(inputs) else dict(self.derived_inputs(dict(inputs)))
        props = {p.name: p for p in self.SPEC}
        for name, deps in self.KEPT_OUTPUTS.items():
            value = old_outputs.get(name)
            if value is None or contains_unknown(value) or not olds:
                continue
            if all(not contains_unknown(inputs.get(d))
                   and normalize(props.get(d), olds.get(d)) == normalize(props.get(d), inputs.get(d)) for d in deps):
                known[name] = value
        return known

    def read_inputs(self, outs: Mapping[str, Any]) -> dict:
        """The inputs as the host fulfils them (what ``read`` returns as ``ReadResult.inputs``): every
        declared input from the refreshed outputs, plus what ``check`` would add for them."""
        inputs = {p.name: outs[p.name] for p in self.SPEC if p.name in outs}
        inputs.update(self.known_outputs(inputs, inputs, outs))
        return inputs

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        return self.diff_with(olds, news)

    def diff_with(self, olds: Mapping[str, Any], news: Mapping[str, Any],
                  equal: Mapping[str, Callable[[Any, Any], bool]] | None = None,
                  replace_when_known: Sequence[str] = ()) -> DiffResult:
        """The SPEC diff table, with two optional refinements a resource's ``diff`` may ask for:

        - ``equal[name](old, new)`` compares a property first: where it says equal, the property is not a
          change (e.g. "hv01.hyper.local" vs "HV01");
        - ``replace_when_known``: 'replace' properties that usually come from another resource's output
          (a CSV path, a LUN serial, the cluster name). While that resource is itself being updated, the
          engine does not know the value during preview; that is shown as an update, and the real
          replacement decision is taken by the diff of the update itself, when the value is known.
        """
        olds = dict(olds)
        for name, same in (equal or {}).items():
            new = news.get(name)
            if not is_unknown(new) and same(olds.get(name), new):
                olds[name] = new
        changes, replaces = describe_diff(self.SPEC, olds, news)
        replaces = [r for r in replaces if not (r in replace_when_known and contains_unknown(news.get(r)))]
        if replaces and self.REPLACEMENT_WARNING:
            from . import progress

            noun, key = self.REPLACEMENT_WARNING
            name = news.get(key)  # (a name still unknown at preview is never shown as a repr)
            progress.warning_storage_replacement(f"{noun} {name!r}" if isinstance(name, str) and not is_unknown(name)
                                                 else noun, replaces)
        return DiffResult(
            changes=bool(changes),
            replaces=replaces,
            stables=[p.name for p in self.SPEC if p.name not in changes],
            delete_before_replace=self.DELETE_BEFORE_REPLACE if replaces else False,
        )

    @_winrm_operation
    def create(self, props: dict) -> CreateResult:
        inputs = self.inputs_of(props)
        computed = self.ensure(inputs, None)
        return CreateResult(self.make_id(inputs), self.outputs(inputs, computed))

    @_winrm_operation
    def update(self, id: str, olds: dict, news: dict) -> UpdateResult:
        inputs = self.inputs_of(news)
        computed = self.ensure(inputs, olds)
        return UpdateResult(self.outputs(inputs, computed))

    @_winrm_operation
    def read(self, id: str, props: dict) -> ReadResult:
        try:
            observed = self.observe(id, props)
        except ConnectionFailedError:
            # A host that does not answer (powered off, restarting, cut off) is no evidence that its
            # objects changed or are gone: keep what the state knows, so that a refresh still shows
            # everything the reachable hosts report (e.g. the VM that failed over). The next refresh
            # after the host answers again reads it for real; an up or a delete still needs it.
            observed = {}
        if observed is None:
            return ReadResult("", {})  # gone: the engine drops it from the state
        outs = self.outputs(self.inputs_of(props), {k: v for k, v in props.items() if k in self.OUTPUTS})
        outs.update(observed)
        # the observed values become the inputs the next diff starts from (and shows)
        return ReadResult(id, outs, self.read_inputs(outs))

    @_winrm_operation
    def delete(self, id: str, props: dict) -> None:
        self.remove(id, props)


_ENGINE_METHODS = frozenset({"Check", "Diff", "Create", "Read", "Update", "Delete"})


def _engine_request() -> Any:
    """The gRPC request the dynamic-provider host is serving in this thread, or None.

    The SDK's host (``pulumi.dynamic.__main__``) passes the provider only the deserialized properties;
    fields it does not forward (Check's ``old_outputs``, the request's ``urn``) are only reachable from
    its frame. Read-only; when the SDK changes shape this returns None and callers fall back.
    """
    frame = sys._getframe(1)
    while frame is not None:
        spec = frame.f_globals.get("__spec__")
        if frame.f_code.co_name in _ENGINE_METHODS and getattr(spec, "name", None) == "pulumi.dynamic.__main__":
            return frame.f_locals.get("request")
        frame = frame.f_back
    return None


def _engine_request_properties(field: str) -> dict | None:
    """A property-map field of the current engine request (e.g. Check's ``old_outputs``), or None."""
    request = _engine_request()
    try:
        if request is None or not request.HasField(field):
            return None
        from pulumi.runtime import rpc

        return rpc.deserialize_properties(getattr(request, field), True) or None
    except Exception:  # noqa: BLE001 - an SDK/engine without the field: callers fall back
        return None


#: The type token every hvprovider resource had before each got its own (pulumi-python:dynamic:Resource):
#: an alias to it lets a stack created then upgrade in place, with no replacement.
LEGACY_TYPE = "pulumi-python:dynamic:Resource"
TYPE_MODULE = "hvprovider"


class HvResource(Resource):
    """Base of the hvprovider resources: one constructor convention, typed outputs, secrets marked.

    Every resource is built the way Pulumi's generated SDKs build theirs::

        IscsiTarget("quorum-target", IscsiTargetArgs(connection=c, target_name="cluster", ...))
        IscsiTarget("quorum-target", connection=c, target_name="cluster", ...)

    (keyword arguments override the Args object's fields). A keyword the resource does not declare
    is an ``errors.ArgumentError`` naming the allowed ones. A subclass declares ``PROVIDER`` (its
    ``HvProvider`` class) and gets its own type token, ``pulumi-python:dynamic/hvprovider:<Class>``,
    with an alias to ``LEGACY_TYPE``.
    """

    PROVIDER: ClassVar[type[HvProvider]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(module=TYPE_MODULE, name=cls.__name__, **kwargs)

    def __init__(self, resource_name: str, args: Any = None, opts: pulumi.ResourceOptions | None = None,
                 **kwargs: Any) -> None:
        provider = self.PROVIDER()
        inputs = resource_inputs(provider, args, kwargs)
        props: dict[str, Any] = {}
        secret_names = [p.name for p in provider.SPEC if p.secret]
        for prop in provider.SPEC:
            value = inputs.get(prop.name)
            if isinstance(value, ConnectionArgs):
                value = value.to_inputs()
            elif isinstance(value, (list, tuple)):
                value = [v.to_inputs() if isinstance(v, ConnectionArgs) else v for v in value]
            if value is not None and prop.secret:
                value = pulumi.Output.secret(value)
            props[prop.name] = value
        for output in provider.OUTPUTS:
            props[output] = None
        own_opts = pulumi.ResourceOptions(additional_secret_outputs=secret_names,
                                          aliases=[pulumi.Alias(type_=LEGACY_TYPE)])
        super().__init__(provider, resource_name, props, pulumi.ResourceOptions.merge(own_opts, opts))


def resource_inputs(provider: HvProvider, args: Any, kwargs: Mapping[str, Any]) -> dict:
    """The inputs from an Args object (or a dict) and keyword arguments, which override its fields."""
    if args is None:
        inputs: dict[str, Any] = {}
    elif isinstance(args, Mapping):
        inputs = dict(args)
    elif hasattr(args, "__dict__"):
        inputs = {k: v for k, v in vars(args).items() if not k.startswith("_")}
    else:
        raise ArgumentError(f"{provider.RESOURCE}: args must be a {provider.RESOURCE}Args or a dict, "
                            f"got {type(args).__name__}")
    inputs.update({k: v for k, v in kwargs.items()})
    allowed = [p.name for p in provider.SPEC]
    unknown = sorted(set(inputs) - set(allowed))
    if unknown:
        raise ArgumentError(f"{provider.RESOURCE}: unknown argument(s) {', '.join(unknown)}; "
                            f"allowed: {', '.join(allowed)}")
    return inputs


def adopted(state: Mapping[str, Any], olds: Mapping[str, Any] | None) -> bool:
    """Whether the object already existed when this resource first ensured it (the script's
    ``Adopted``); decided at create and kept by every update."""
    return bool(olds.get("adopted")) if olds else bool(state.get("Adopted"))


def merge_observed(spec_names: tuple[str, ...], desired: Mapping[str, Any], observed: Mapping[str, Any]) -> dict:
    """Helper for observe(): keep desired values where the host agrees, report the host's where not."""
    return {k: observed[k] for k in spec_names if k in observed and observed[k] != desired.get(k)}


__all__ = ["HvProvider", "HvResource", "LEGACY_TYPE", "resource_inputs", "describe_diff", "normalize", "is_unknown", "contains_unknown",
           "PROVIDER_KEY", "merge_observed", "adopted"]

_install_concise_errors()
