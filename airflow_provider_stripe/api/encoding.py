"""Encoding: request parameters in Stripe's form encoding, object paths, and endpoint names.

Stripe reads ``created[gte]=…`` and ``expand[]=…``; an id becomes exactly one
escaped path segment, so it can never reach another endpoint; and every request
path maps to the endpoint it counts against (ids left out), for per-endpoint
pacing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from airflow_provider_stripe.api.params import check_id
from airflow_provider_stripe.api.registry import RESOURCES

#: Registry paths of two segments (``checkout/sessions``): read once, not on every request.
_NESTED_PATHS = frozenset(path for path in RESOURCES if "/" in path)


def encode_params(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Form-encode parameters the way Stripe expects: ``created[gte]=…``, ``expand[]=…``."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            pairs.extend((f"{key}[{sub}]", _scalar(item)) for sub, item in value.items())
        elif isinstance(value, (list, tuple)):
            pairs.extend((f"{key}[]", _scalar(item)) for item in value)
        else:
            pairs.append((key, _scalar(value)))
    return pairs


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def object_path(collection: str, object_id: str, param: str = "id") -> str:
    """``collection/<id>`` with the id escaped as exactly one path segment.

    Everything but letters, digits, ``_`` and ``-`` is percent-encoded (dots too),
    so an id can never climb to another endpoint or add query parameters;
    :func:`~airflow_provider_stripe.api.params.check_id` has refused ``.`` and ``..``.
    """
    check_id(object_id, param)
    return f"{collection}/{quote(object_id, safe='').replace('.', '%2E')}"


def endpoint_name(path: str) -> str:
    """The endpoint a request path belongs to, ids left out (``invoices/{id}/lines``): per-endpoint pacing."""
    parts = path.split("/")
    size = 2 if "/".join(parts[:2]) in _NESTED_PATHS else 1
    rest = parts[size:]
    if rest and rest[0] != "search":
        rest[0] = "{id}"
    return "/".join([*parts[:size], *rest])
