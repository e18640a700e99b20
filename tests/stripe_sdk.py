"""What Stripe's own generated SDK (stripe-python, pinned in the test constraints) says of each list.

stripe-python is generated from Stripe's OpenAPI spec: each service's ``list()``
names its path (``"/v1/invoices"``), its ``…ListParams`` TypedDict and the resource
class it returns, whose ``OBJECT_NAME`` is the records' ``object``. The classes are
resolved through the service module's own imports, so the same-named
``SessionListParams`` of ``checkout/`` and ``financial_connections/`` never mix.
A test-only dependency: the provider never imports it.
"""

from __future__ import annotations

import ast
import functools
import importlib
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import stripe
import typing_extensions
from stripe._request_options import RequestOptions

#: Parameters every list takes, which the registry does not repeat per row.
PAGING = frozenset({"limit", "starting_after", "ending_before", "expand"})
_RANGE_KEYS = {"gt", "gte", "lt", "lte"}
#: What a parameter's type says its kind is, as the test server's extract spells kinds.
Kind = str | dict[str, list[str]]


@dataclass(frozen=True)
class SdkList:
    """One ``GET /v1/<path>`` list of stripe-python."""

    path: str  #: under ``/v1/``, with ``{parent}`` placeholders for child collections
    params_class: str  #: ``module.ClassName`` of its ``…ListParams``
    params: dict[str, Kind]  #: every parameter but the paging ones, by name
    objects: frozenset[str]  #: the ``object`` of its records (two for a union such as external accounts)
    searchable: bool
    #: The fields of its records' resource class, and of those the ones never null.
    fields: frozenset[str]
    always: frozenset[str]
    #: The resource classes of its records (the first is the usual one).
    classes: tuple[type, ...] = ()


def _imports(module_file: Path) -> dict[str, str]:
    """Every name the module imports (``TYPE_CHECKING`` blocks included), to its module."""
    found = {}
    for node in ast.walk(ast.parse(module_file.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                found[alias.asname or alias.name] = node.module
    return found


def _kind(hint: Any, module: Any) -> Kind:
    """A parameter's kind from its annotation: string, boolean, integer, range, array, object or enum."""
    if isinstance(hint, str):  # a forward reference: "Literal['a', 'b']|str", "XParamsCreated|int"
        parts = [p.strip() for p in hint.split("|")]
        literal = re.fullmatch(r"Literal\[(.*)\]", parts[0], re.S)
        if literal:
            return {"enum": sorted(re.findall(r"'([^']*)'", literal.group(1)))}
        nested = getattr(module, parts[0], None)
        if nested is not None and typing_extensions.is_typeddict(nested):
            keys = set(nested.__annotations__)
            return "range" if keys <= _RANGE_KEYS else "object"
        if parts[0].startswith(("Mapping[", "Dict[")):
            return "object"
        if parts[0].startswith("List["):
            return "array"
        hint = {"str": str, "int": int, "bool": bool}.get(parts[0], parts[0])
    origin = typing.get_origin(hint)
    if origin is typing.Union:
        return _kind(next(a for a in typing.get_args(hint) if a is not type(None)), module)
    if origin in (list, typing.List):  # noqa: UP006 - the SDK spells List
        return "array"
    if getattr(origin, "__name__", "") == "Literal":
        return {"enum": sorted(typing.get_args(hint))}
    names = {str: "string", bool: "boolean", int: "integer"}
    if hint in names:
        return names[hint]
    raise ValueError(f"unknown parameter type {hint!r} in {module.__name__}")


def _params(cls: Any) -> dict[str, Kind]:
    module = importlib.import_module(cls.__module__)
    kinds = {}
    for name, annotation in cls.__annotations__.items():
        if name in PAGING or name in RequestOptions.__annotations__:  # the SDK's own options
            continue
        hint = annotation
        # NotRequired[...] as a string or a typing object: the kind is what it wraps.
        if isinstance(hint, str):
            hint = re.sub(r"^NotRequired\[(.*)\]$", r"\1", hint.strip(), flags=re.S).strip().strip('"')
            if hint in ("str", "int", "bool"):
                hint = {"str": str, "int": int, "bool": bool}[hint]
            elif hint in ("List[str]",):
                kinds[name] = "array"
                continue
        else:
            args = typing.get_args(hint)
            hint = args[0] if getattr(typing.get_origin(hint), "__name__", "") == "NotRequired" else hint
            if isinstance(hint, typing.ForwardRef):
                hint = hint.__forward_arg__
        kinds[name] = _kind(hint, module)
    return kinds


@functools.cache
def sdk_lists() -> dict[str, SdkList]:
    """Every list of stripe-python, by its path under ``/v1/``."""
    root = Path(stripe.__file__).parent
    found: dict[str, SdkList] = {}
    for service_file in sorted(root.rglob("_*_service.py")):
        module_name = ".".join(service_file.relative_to(root.parent).with_suffix("").parts)
        module = importlib.import_module(module_name)
        imports = _imports(service_file)
        for cls in vars(module).values():
            if not (isinstance(cls, type) and cls.__module__ == module_name and "list" in vars(cls)):
                continue
            source = ast.get_source_segment(service_file.read_text(), _method(service_file, cls, "list"))
            assert source is not None
            path = re.search(r'"/v1/([^"]+)"', source)
            params = re.search(r'params: (?:Optional\[)?"(\w+)"', source)
            returns = re.search(r'-> "ListObject\[(.+?)\]"', source)
            if not (path and params and returns):
                continue
            params_class = getattr(importlib.import_module(imports[params.group(1)]), params.group(1))
            objects, fields, always = set(), set(), set()
            classes = []
            for name in re.findall(r"\w+", returns.group(1)):
                if name in imports and name != "Union":
                    resource = getattr(importlib.import_module(imports[name]), name)
                    classes.append(resource)
                    objects.add(resource.OBJECT_NAME)
            if classes:  # the shape of the first (a bank account, for external accounts)
                fields, always = _fields(classes[0])
            search = "search" in vars(cls)
            found[path.group(1)] = SdkList(
                path=path.group(1),
                params_class=f"{params_class.__module__}.{params_class.__name__}",
                params=_params(params_class),
                objects=frozenset(objects),
                searchable=search,
                fields=frozenset(fields),
                always=frozenset(always),
                classes=tuple(classes),
            )
    return found


def _fields(resource: type) -> tuple[set[str], set[str]]:
    """A resource class's fields, and those whose type admits no None (``deleted`` aside)."""
    fields, always = set(), set()
    for cls in reversed(resource.__mro__):
        for name, hint in vars(cls).get("__annotations__", {}).items():
            if name.startswith("_") or name in ("OBJECT_NAME", "deleted"):
                continue
            text = hint if isinstance(hint, str) else repr(hint)
            if "ClassVar" in text:
                continue
            fields.add(name)
            if not ("Optional[" in text or "NoneType" in text or "None" in text.split("|")):
                always.add(name)
    return fields, always


@functools.cache
def _tree(service_file: Path) -> ast.Module:
    return ast.parse(service_file.read_text())


def _method(service_file: Path, cls: type, name: str) -> ast.FunctionDef:
    for node in ast.walk(_tree(service_file)):
        if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == name:
                    return item
    raise LookupError(f"{cls.__name__}.{name}")


@functools.cache
def sdk_singletons() -> dict[str, type]:
    """Objects Stripe serves at one path with no id (``GET /v1/balance``): path to resource class."""
    root = Path(stripe.__file__).parent
    found = {}
    for service_file in sorted(root.rglob("_*_service.py")):
        text = service_file.read_text()
        imports = _imports(service_file)
        for node in ast.walk(_tree(service_file)):
            if not (isinstance(node, ast.FunctionDef) and node.name == "retrieve"):
                continue
            source = ast.get_source_segment(text, node) or ""
            path = re.search(r'"/v1/([a-z_/]+)",', source)
            returns = re.search(r'-> "(\w+)"', source)
            if path and returns and "{" not in path.group(1) and returns.group(1) in imports:
                resource = getattr(importlib.import_module(imports[returns.group(1)]), returns.group(1))
                if isinstance(getattr(resource, "OBJECT_NAME", None), str):
                    found[path.group(1)] = resource
    return found


def example_object(resource: type, object_id: str | None, depth: int = 0) -> dict[str, Any]:
    """A record of ``resource`` in its class's shape: every field, null wherever Stripe allows it.

    For objects Stripe's 2023 spec did not have, the test server serves this instead of an
    example from the spec: the shape is exact, the values are plain (0, "", False, first enum).
    """
    module = importlib.import_module(resource.__module__)
    found: dict[str, Any] = {}
    for cls in reversed(resource.__mro__):
        for name, hint in vars(cls).get("__annotations__", {}).items():
            if name.startswith("_") or name in ("OBJECT_NAME", "deleted") or "ClassVar" in repr(hint):
                continue
            found[name] = _example_value(name, hint, module, depth)
    if isinstance(getattr(resource, "OBJECT_NAME", None), str):
        found["object"] = resource.OBJECT_NAME
    if object_id is not None:
        found["id"] = object_id
    else:
        found.pop("id", None)
    return found


def _example_value(name: str, hint: Any, module: Any, depth: int) -> Any:
    if isinstance(hint, (str, typing.ForwardRef)):
        return f"{name}_0" if name != "currency" else "usd"  # an expandable id, or a type only named
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union:
        if type(None) in args:
            return None
        return _example_value(name, args[0], module, depth)
    if getattr(origin, "__name__", "") == "Literal":
        return args[0]
    if origin in (list, typing.List):  # noqa: UP006 - the SDK spells List
        return []
    if origin in (dict, typing.Dict):  # noqa: UP006
        return {}
    if name == "created" or hint is int:
        return 1_600_000_000 if name == "created" else 0
    if hint is bool:
        return False
    if hint is str:
        return "usd" if name == "currency" else ""
    if getattr(hint, "__name__", "") == "Decimal":
        return "0"
    type_name = getattr(origin or hint, "__name__", "")
    if type_name == "ListObject":
        return {"object": "list", "data": [], "has_more": False, "url": ""}
    if isinstance(hint, type) and depth < 3:
        return example_object(hint, None, depth + 1)
    return {}


@functools.cache
def sdk_event_types() -> frozenset[str]:
    """The event types ``/v1/events`` lists, as stripe-python's ``Event.type`` names them."""
    text = (Path(stripe.__file__).parent / "_event.py").read_text()
    found = re.search(r"\n    type: Literal\[(.*?)\]\n", text, re.S)
    assert found, "stripe/_event.py has no type Literal"
    return frozenset(re.findall(r'"([^"]+)"', found.group(1)))


@functools.cache
def sdk_event_objects() -> dict[str, str]:
    """Every typed v1 event (``stripe/events/_v1_*.py``) and the ``object`` its ``data.object`` is."""
    found = {}
    for event_file in sorted((Path(stripe.__file__).parent / "events").glob("_v1_*_event.py")):
        text = event_file.read_text()
        lookup = re.search(r'LOOKUP_TYPE = "v1\.([^"]+)"', text)
        related = re.search(r'def fetch_related_object\(self\) -> "(\w+)"', text)
        if not (lookup and related):
            continue
        imports = _imports(event_file)
        name = related.group(1)
        module = imports.get(name)
        if module is None:  # imported under another path than TYPE_CHECKING's: find its class file
            module = next(
                ".".join(p.relative_to(Path(stripe.__file__).parent.parent).with_suffix("").parts)
                for p in Path(stripe.__file__).parent.rglob("_*.py")
                if re.search(rf"^class {name}\(", p.read_text(), re.M)
            )
        found[lookup.group(1)] = getattr(importlib.import_module(module), name).OBJECT_NAME
    return found


def sdk_class(name: str) -> type:
    """A class of stripe-python by name, wherever it is defined (its modules import lazily)."""
    root = Path(stripe.__file__).parent
    for source in sorted(root.rglob("_*.py")):
        if re.search(rf"^class {name}\(", source.read_text(), re.M):
            module = ".".join(source.relative_to(root.parent).with_suffix("").parts)
            found: type = getattr(importlib.import_module(module), name)
            return found
    raise LookupError(name)


def embedded_item_class(resource: type, prop: str, object_name: str | None = None) -> type:
    """The class of the items of the embedded list ``prop`` (an invoice's ``lines``: InvoiceLineItem).

    A list of several kinds (a customer's ``sources``) picks the one whose ``object`` is
    ``object_name``."""
    for cls in resource.__mro__:
        hint = vars(cls).get("__annotations__", {}).get(prop)
        if hint is None:
            continue
        inner = re.search(r"ListObject\[(.*)\]", repr(hint))
        assert inner, f"{resource.__name__}.{prop} is not a list: {hint!r}"
        names = [n for n in re.findall(r"\b([A-Z]\w+)\b", inner.group(1)) if n not in ("ForwardRef", "Union")]
        classes = [sdk_class(name) for name in names]
        if object_name is None or len(classes) == 1:
            return classes[0]
        return next(c for c in classes if getattr(c, "OBJECT_NAME", None) == object_name)
    raise LookupError(f"{resource.__name__}.{prop}")


def example_value(resource: type, name: str) -> Any:
    """An example of the field ``name`` of ``resource``, as :func:`example_object` makes them."""
    module = importlib.import_module(resource.__module__)
    for cls in resource.__mro__:
        hint = vars(cls).get("__annotations__", {}).get(name)
        if hint is not None:
            return _example_value(name, hint, module, 1)
    raise LookupError(f"{resource.__name__}.{name}")
