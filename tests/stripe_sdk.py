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
            for name in re.findall(r"\w+", returns.group(1)):
                if name in imports and name != "Union":
                    resource = getattr(importlib.import_module(imports[name]), name)
                    objects.add(resource.OBJECT_NAME)
                    found_fields, found_always = _fields(resource)
                    fields |= found_fields
                    always |= found_always
            search = "search" in vars(cls)
            found[path.group(1)] = SdkList(
                path=path.group(1),
                params_class=f"{params_class.__module__}.{params_class.__name__}",
                params=_params(params_class),
                objects=frozenset(objects),
                searchable=search,
                fields=frozenset(fields),
                always=frozenset(always),
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
