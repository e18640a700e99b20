"""Validate JSON against the Stripe OpenAPI subset in ``../shared/reference``."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

# A copy of ../shared/reference/stripe-openapi-customer-subset.json (Stripe's MIT-licensed
# OpenAPI spec; its "source" key names the commit), kept here so a plain clone can run the tests.
SPEC_FILE = Path(__file__).resolve().parent / "data" / "stripe-openapi-customer-subset.json"


def _to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 → JSON Schema: ``nullable: true`` becomes ``anyOf [..., null]``."""
    if isinstance(node, list):
        return [_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _to_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@cache
def _spec() -> dict[str, Any]:
    return _to_json_schema(json.loads(SPEC_FILE.read_text()))


def validate(instance: Any, schema_name: str) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``instance`` has the shape of ``schema_name``."""
    spec = _spec()
    schema = {**spec["components"]["schemas"][schema_name], "components": spec["components"]}
    jsonschema.validate(instance, schema)
