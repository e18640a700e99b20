"""Summarise Stripe's OpenAPI spec into tests/data/stripe-openapi-objects.json.

For each list endpoint ``GET /v1/<path>`` in the provider's registry
(``airflow_provider_stripe.resources.RESOURCES``) the output records the object it
returns (read from the list schema's ``data`` items ``$ref``), its query parameters, the
retrieve path, the search parameters, the embedded list properties, the expandable fields
and Stripe's example object from ``fixtures3.json``.

The newest full spec readable in the stripe/openapi snapshot is ``openapi/spec3.yaml`` at
commit 63a67463 (2023-09-12); take the fixtures from the same commit so the two agree::

    REPO=path/to/a/clone/of/github.com/stripe/openapi
    git -C $REPO show 63a67463:openapi/spec3.yaml > /tmp/spec3.yaml
    git -C $REPO show 63a67463:openapi/fixtures3.json > /tmp/fixtures3.json
    SOURCE='stripe/openapi openapi/spec3.yaml @63a67463 (2023-09-12, info.version {version})'
    SOURCE="$SOURCE; fixtures: openapi/fixtures3.json @63a67463"
    .venv/bin/python scripts/openapi_subset.py --spec /tmp/spec3.yaml --fixtures /tmp/fixtures3.json \\
        --source "$SOURCE" --out tests/data/stripe-openapi-objects.json

``{version}`` in ``--source`` is replaced by the spec's ``info.version``. A ``.json`` spec is
read with the standard library; any other spec is read as YAML (needs PyYAML).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from airflow_provider_stripe.api.registry import RESOURCES

RANGE_KEYS = {"gt", "gte", "lt", "lte"}

Kind = str | dict[str, list[str]]


def load_spec(path: Path) -> dict[str, Any]:
    """Read the spec as JSON or, for any other suffix, YAML."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)  # type: ignore[no-any-return]
    import yaml  # type: ignore[import-untyped]  # only needed for a YAML spec

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    spec = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    # YAML's implicit typing (dates, yes/no) must not have changed anything JSON would keep as text.
    json.dumps(spec)
    return spec  # type: ignore[no-any-return]


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` (``#/components/schemas/...``)."""
    while "$ref" in schema:
        node: Any = spec
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def is_range(schema: dict[str, Any]) -> bool:
    """Stripe's range filter: ``anyOf`` of an object with gt/gte/lt/lte and an integer."""
    options = schema.get("anyOf", [])
    types = {option.get("type") for option in options}
    objects = [option for option in options if option.get("type") == "object"]
    return (
        len(options) == 2
        and types == {"object", "integer"}
        and set(objects[0].get("properties", {})) == RANGE_KEYS
    )


def kind(name: str, schema: dict[str, Any]) -> Kind:
    """Simplify a query parameter's schema."""
    if name == "expand":
        return "array"
    if is_range(schema):
        return "range"
    schema_type = schema.get("type")
    if schema_type == "string" and "enum" in schema:
        return {"enum": sorted(schema["enum"])}
    if schema_type in {"string", "integer", "boolean", "array", "object"}:
        return str(schema_type)
    return "other"


def query_params(operation: dict[str, Any]) -> tuple[dict[str, Kind], list[str]]:
    """Kinds of an operation's query parameters, and the names of the required ones."""
    params = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
    kinds = {p["name"]: kind(p["name"], p.get("schema", {})) for p in params}
    required = sorted(p["name"] for p in params if p.get("required"))
    return kinds, required


def is_list_object(spec: dict[str, Any], schema: dict[str, Any]) -> bool:
    """A Stripe list object: ``object`` enum ``["list"]`` and a ``url`` property."""
    schema = resolve(spec, schema)
    if any(is_list_object(spec, option) for option in schema.get("anyOf", [])):
        return True
    properties = schema.get("properties", {})
    return properties.get("object", {}).get("enum") == ["list"] and "url" in properties


def summarise(spec: dict[str, Any], fixtures: dict[str, Any], list_path: str) -> dict[str, Any] | None:
    """Summary of one list endpoint, or None if the spec lacks ``GET /v1/<list_path>``."""
    paths = spec["paths"]
    base = f"/v1/{list_path}"
    operation = paths.get(base, {}).get("get")
    if operation is None:
        return None
    response = operation["responses"]["200"]["content"]["application/json"]["schema"]
    ref = resolve(spec, response)["properties"]["data"]["items"]["$ref"]
    object_name = ref.rsplit("/", 1)[-1]
    schema = resolve(spec, {"$ref": ref})

    list_kinds, list_required = query_params(operation)
    if list_required:
        print(f"note: GET {base} requires {list_required}")
    retrieve = [
        path
        for path, item in paths.items()
        if "get" in item
        and path.startswith(f"{base}/{{")
        and path.endswith("}")
        and "/" not in path[len(base) + 1 :]
    ]
    if len(retrieve) > 1:
        raise SystemExit(f"{list_path}: several retrieve paths {retrieve}")
    search_operation = paths.get(f"{base}/search", {}).get("get")
    search_kinds, search_required = query_params(search_operation or {})
    if search_required:
        print(f"note: GET {base}/search requires {search_required}")

    properties = schema.get("properties", {})
    return {
        "object": object_name,
        "list": list_kinds,
        "retrieve": retrieve[0] if retrieve else None,
        "search": search_kinds if search_operation else None,
        "lists": sorted(name for name, prop in properties.items() if is_list_object(spec, prop)),
        "expandable": sorted(schema.get("x-expandableFields", [])),
        "fixture": fixtures["resources"].get(object_name),
    }


def main() -> None:
    """Parse arguments, build the subset and write it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, required=True, help="spec3.json or spec3.yaml")
    parser.add_argument("--fixtures", type=Path, required=True, help="fixtures3.json")
    parser.add_argument("--source", required=True, help="provenance text; {version} = info.version")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    spec = load_spec(args.spec)
    fixtures = json.loads(args.fixtures.read_text(encoding="utf-8"))
    resources: dict[str, Any] = {}
    for list_path in RESOURCES:
        summary = summarise(spec, fixtures, list_path)
        if summary is None:
            print(f"skipped {list_path}: no GET /v1/{list_path} in the spec")
            continue
        if summary["fixture"] is None:
            print(f"note: no fixture for {summary['object']}")
        resources[list_path] = summary

    source = args.source.replace("{version}", str(spec["info"]["version"]))
    text = json.dumps({"source": source, "resources": resources}, indent=1, sort_keys=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {len(resources)} resources, {len(text) + 1} bytes")


if __name__ == "__main__":
    main()
