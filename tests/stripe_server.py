"""A Stripe-compatible HTTP server for tests, the demo and benchmarks.

Real HTTP/1.1 on 127.0.0.1 (ephemeral port by default) that serves
``GET /v1/customers`` and ``GET /v1/customers/{id}`` the way Stripe does:
newest first, both cursors, ``email``/``created``/``test_clock`` filters, limit
validation, ``expand[]``, deleted customers (200 ``{"deleted": true}``),
``POST /v1/customers[/{id}]`` and ``DELETE /v1/customers/{id}`` (form-encoded,
as Stripe takes them), each emitting its ``customer.created/updated/deleted``
event, ``GET /v1/events[/{id}]`` (``type`` with ``*``, ``types[]`` up to 20,
``created``, cursors, newest first, 30-day retention on the server's clock),
Stripe's error bodies with a ``Request-Id`` header, bearer and basic auth,
``Stripe-Account`` (Connect) and a per-second rate limit. Faults can be queued
or drawn at random (429 with or without ``Retry-After``/``Stripe-Should-Retry``,
5xx, dropped connections, latency), and every request is logged for assertions.

Every other object type of ``tests/data/stripe-openapi-objects.json`` (an extract of
Stripe's OpenAPI spec with its example objects: invoices, subscriptions, charges,
checkout sessions, prices, products, payouts, accounts …) is served the same way from
the spec: ``GET /v1/<path>`` (newest first, the same cursors, limit and ``created``
rules, exactly the spec's filters for that path, subscriptions hiding canceled ones
unless ``status`` asks), ``GET /v1/<path>/<id>`` (``expand[]``), embedded lists as
Stripe embeds them (the first 10 items and ``has_more``; the rest paged at
``/v1/<path>/<id>/<prop>``, a subscription's items at
``/v1/subscription_items?subscription=…``; ``line_items`` and the like only when
expanded) and, where Stripe has it, ``GET /v1/<path>/search`` (customers too) with a
subset of Stripe's search query language. ``seed_objects`` fills them (copies of the
example objects), ``objects_now`` reads them back, and ``connect_account`` adds a
connected account: its own store and its entry in ``GET /v1/accounts``.

Run it by hand: ``python tests/stripe_server.py --customers 5000 --objects invoices=2000 --port 12111``.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import collections
import contextlib
import copy
import dataclasses
import fnmatch
import functools
import gc
import hashlib
import itertools
import json
import marshal
import random
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

DEFAULT_KEY = "sk_test_fakeserverkey"


def fake_key(prefix: str = "sk_live") -> str:
    """A random key with Stripe's prefix (``sk_live``, ``rk_live`` …), made at run time: the
    repository holds no string that looks like a real key."""
    return f"{prefix}_{secrets.token_hex(12)}"


PLATFORM_ACCOUNT = ""
API_VERSION = "2024-06-20"
#: Stripe keeps events this long (seconds).
EVENT_RETENTION = 30 * 86400
MAX_EVENT_TYPES = 20
#: Fields a customer update may change (form parameters of ``POST /v1/customers/{id}``).
UPDATABLE = ("email", "name", "description", "phone", "balance", "metadata", "address")

FIRST_NAMES = [
    "Ada",
    "Grace",
    "Linus",
    "Zoë",
    "José",
    "Chidi",
    "Mei",
    "Oskar",
    "Priya",
    "Søren",
    "Aiko",
    "Omar",
]
LAST_NAMES = ["Lovelace", "Hopper", "Okafor", "García", "Müller", "Nakamura", "Singh", "Dubois", "Kowalski"]
CITIES = [
    ("Berlin", "DE"),
    ("Lagos", "NG"),
    ("São Paulo", "BR"),
    ("Tokyo", "JP"),
    ("Austin", "US"),
    ("Paris", "FR"),
]


def make_customer(
    seq: int, created: int, *, livemode: bool = False, rng: random.Random | None = None, **overrides: Any
) -> dict[str, Any]:
    """A realistic customer object with every field of Stripe's schema."""
    rng = rng or random.Random(seq)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    city, country = rng.choice(CITIES)
    customer: dict[str, Any] = {
        "id": f"cus_{seq:08d}{secrets.token_hex(3)}",
        "object": "customer",
        "address": {
            "city": city,
            "country": country,
            "line1": f"{rng.randint(1, 999)} Main Street",
            "line2": None,
            "postal_code": f"{rng.randint(10000, 99999)}",
            "state": None,
        },
        "balance": rng.choice([0, 0, 0, -500, 1200]),
        "created": created,
        "currency": rng.choice([None, "usd", "eur"]),
        "default_currency": None,
        "default_source": None,
        "delinquent": rng.random() < 0.05,
        "description": rng.choice([None, "Imported from legacy CRM", "VIP ✨"]),
        "discount": None,
        "email": f"{first}.{last}.{seq}@example.com".lower(),
        "invoice_prefix": f"{seq:08X}"[-8:],
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": livemode,
        "metadata": {"crm_id": str(seq)} if seq % 3 == 0 else {},
        "name": f"{first} {last}",
        "next_invoice_sequence": 1,
        "phone": None if seq % 4 else f"+1555{seq % 10_000_000:07d}",
        "preferred_locales": ["en"],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }
    customer.update(overrides)
    return customer


#: Every object type the server serves besides customers and events: an extract of Stripe's
#: OpenAPI spec (list parameters, retrieve and search paths, embedded lists, expandable fields)
#: with Stripe's example object of each, by list path.
OBJECTS_FILE = Path(__file__).parent / "data" / "stripe-openapi-objects.json"
#: How many items of an embedded list a response carries (the rest: the list's own URL).
EMBEDDED_PAGE = 10
#: Stripe's cap on the clauses of one search query.
MAX_SEARCH_CLAUSES = 10
#: The item of an embedded list whose fixture has none: (object, id prefix, field naming the parent).
MINIMAL_ITEMS: dict[tuple[str, str], tuple[str, str, str | None]] = {
    ("accounts", "external_accounts"): ("bank_account", "ba_", "account"),
    ("application_fees", "refunds"): ("fee_refund", "fr_", "fee"),
    ("charges", "refunds"): ("refund", "re_", "charge"),
    ("checkout/sessions", "line_items"): ("item", "li_", None),
    ("credit_notes", "lines"): ("credit_note_line_item", "cnli_", None),
    ("invoices", "lines"): ("line_item", "il_", None),
    ("payment_links", "line_items"): ("item", "li_", None),
    ("quotes", "line_items"): ("item", "li_", None),
    ("subscriptions", "items"): ("subscription_item", "si_", "subscription"),
    ("transfers", "reversals"): ("transfer_reversal", "trr_", "transfer"),
}


def _first_item(subscription: dict[str, Any]) -> dict[str, Any]:
    items = (subscription.get("items") or {}).get("data") or [{}]
    return items[0]


def _price_ids(subscription: dict[str, Any]) -> list[str]:
    items = (subscription.get("items") or {}).get("data") or []
    prices = [item.get("price") for item in items]
    return [price["id"] if isinstance(price, dict) else price for price in prices if price]


#: List filters that are not the top-level field of the same name: what Stripe matches them with.
DERIVED_FILTERS: dict[tuple[str, str], Callable[[dict[str, Any]], Any]] = {
    ("invoiceitems", "pending"): lambda o: o.get("invoice") is None,
    ("setup_intents", "attach_to_self"): lambda o: bool(o.get("attach_to_self")),
    ("shipping_rates", "currency"): lambda o: (o.get("fixed_amount") or {}).get("currency"),
    ("subscription_schedules", "scheduled"): lambda o: o.get("status") == "not_started",
    ("subscriptions", "price"): _price_ids,
    # Since basil these live deeper in the object than the filter's name says.
    ("invoices", "subscription"): lambda o: ((o.get("parent") or {}).get("subscription_details") or {}).get(
        "subscription"
    ),
    ("promotion_codes", "coupon"): lambda o: (o.get("promotion") or {}).get("coupon"),
    ("subscriptions", "current_period_start"): lambda o: _first_item(o).get("current_period_start"),
    ("subscriptions", "current_period_end"): lambda o: _first_item(o).get("current_period_end"),
}
#: Array filters (``ids[]=…``) and the field their values match.
ARRAY_FILTERS = {"ids": "id", "lookup_keys": "lookup_key"}
#: Without ``status``, Stripe lists every subscription but the canceled ones.
SUBSCRIPTION_STATUSES: dict[str | None, Callable[[str | None], bool]] = {
    None: lambda status: status != "canceled",
    "all": lambda status: True,
    "ended": lambda status: status in ("canceled", "incomplete_expired"),
}
_ITEM_SEQUENCE = itertools.count(1)


def _id_prefix(object_id: str) -> str:
    """``in_1Nnm…`` → ``in_``; ``cs_test_a1GY…`` → ``cs_test_``; ``Z4OV52SU`` (a coupon) → ``""``."""
    return object_id[: object_id.rfind("_") + 1]


@dataclass(frozen=True)
class Resource:
    """One list path of Stripe's API (``invoices``, ``checkout/sessions`` …), from the extract."""

    path: str
    object: str
    params: dict[str, Any]  # list query parameters: kind ("string", "range" …, or {"enum": [...]})
    search: bool
    lists: tuple[str, ...]  # embedded list properties
    hidden: frozenset[str]  # … of which these appear only when expanded (absent from the fixture)
    expandable: frozenset[str]
    fixture: bytes  # Stripe's example object, marshalled: marshal.loads is the quickest deep copy
    items: dict[str, tuple[bytes, ...]]  # the items of each embedded list the fixture fills, likewise
    prefix: str
    time_field: str | None  # "created", "date" (invoice items) or None (payment links)
    singleton: bool = False  # one object at its path, no id, no list (the balance)
    #: A child collection's template path and the parent it was asked for (``path`` then concrete).
    template: str | None = None
    parent_id: str | None = None

    def list_url(self, object_id: str, prop: str) -> str:
        if (self.path, prop) == ("subscriptions", "items"):
            return f"/v1/subscription_items?subscription={object_id}"
        return f"/v1/{self.path}/{object_id}/{prop}"

    def item_object(self, prop: str) -> str:
        if prop in self.items:
            return str(marshal.loads(self.items[prop][0]).get("object", "item"))
        return MINIMAL_ITEMS.get((self.path, prop), ("item", "", None))[0]

    def make_items(self, prop: str, parent_id: str, count: int | None) -> list[dict[str, Any]]:
        """``count`` items for the list ``prop`` of ``parent_id`` (None: as many as the fixture has),
        copies of the fixture's first item (else a minimal item), each with a new unique id."""
        fixture_items = self.items.get(prop)
        if not fixture_items:
            obj, prefix, parent_field = MINIMAL_ITEMS.get((self.path, prop), ("item", "item_", None))
            items: list[dict[str, Any]] = []
            for _ in range(count or 0):
                item: dict[str, Any] = {"id": f"{prefix}{next(_ITEM_SEQUENCE):08d}{secrets.token_hex(3)}"}
                item["object"] = obj
                if parent_field:
                    item[parent_field] = parent_id
                items.append(item)
            return items
        templates = fixture_items if count is None else (fixture_items[0],) * count
        items = []
        for template in templates:
            item = marshal.loads(template)
            prefix = _id_prefix(str(item.get("id", "item_")))
            item["id"] = f"{prefix}{next(_ITEM_SEQUENCE):08d}{secrets.token_hex(3)}"
            if isinstance(item.get(self.object), str):  # a subscription item's "subscription"
                item[self.object] = parent_id
            items.append(item)
        return items

    def make(
        self,
        seq: int,
        at: int,
        position: int,
        embedded: dict[str, int],
        overrides: dict[str, Any],
    ) -> dict[str, Any]:
        """A copy of the fixture with a new id, ``at`` as its time, ``overrides`` (a callable is
        called with ``position``) and its embedded lists (``embedded``: how many items in which)."""
        obj: dict[str, Any] = marshal.loads(self.fixture)
        obj["id"] = f"{self.prefix}{seq:08d}{secrets.token_hex(4)}"
        if self.time_field:
            obj[self.time_field] = at
        if "livemode" in obj:
            obj["livemode"] = False
        for name, value in overrides.items():
            obj[name] = value(position) if callable(value) else value
        for prop in self.lists:
            if prop in overrides:
                continue
            if prop in embedded:
                data = self.make_items(prop, obj["id"], embedded[prop])
            elif prop in self.hidden:
                data = []
            else:
                data = self.make_items(prop, obj["id"], None)
            obj[prop] = {
                "object": "list",
                "data": data,
                "has_more": False,
                "url": self.list_url(obj["id"], prop),
            }
        return obj

    def render(self, obj: dict[str, Any], expand: Iterable[str] = ()) -> dict[str, Any]:
        """What a response shows of a stored object: each embedded list's first items, with
        ``has_more``; the lists Stripe only shows when expanded, only when they are."""
        shown = dict(obj)
        for prop in self.lists:
            embedded = obj.get(prop)
            if not isinstance(embedded, dict) or not isinstance(embedded.get("data"), list):
                continue
            if prop in self.hidden and prop not in expand:
                del shown[prop]
                continue
            data = embedded["data"]
            shown[prop] = {**embedded, "data": data[:EMBEDDED_PAGE], "has_more": len(data) > EMBEDDED_PAGE}
        return shown


@contextlib.contextmanager
def bulk_allocation() -> Iterator[None]:
    """Create many objects without the cyclic garbage collector, whose passes over them would take
    most of the time; then put them straight in its oldest generation (freeze, unfreeze), unless
    something else keeps objects frozen."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if collecting:
            gc.enable()


@functools.cache
def resources() -> dict[str, Resource]:
    """Every list path of the extract (customers and events included), by path."""
    found: dict[str, Resource] = {}
    for path, spec in json.loads(OBJECTS_FILE.read_text())["resources"].items():
        fixture = spec["fixture"]
        if spec["list"] is None:
            found[path] = Resource(
                path=path, object=spec["object"], params={}, search=False, lists=(), hidden=frozenset(),
                expandable=frozenset(), fixture=marshal.dumps(fixture), items={}, prefix="",
                time_field=None, singleton=True,
            )  # fmt: skip
            continue
        items = {
            prop: tuple(marshal.dumps(item) for item in fixture[prop]["data"])
            for prop in spec["lists"]
            if isinstance(fixture.get(prop), dict) and fixture[prop].get("data")
        }
        time_field = next((name for name in ("created", "date") if name in fixture), None)
        found[path] = Resource(
            path=path,
            object=spec["object"],
            params=spec["list"],
            search=spec.get("search") is not None,
            lists=tuple(spec["lists"]),
            hidden=frozenset(prop for prop in spec["lists"] if prop not in fixture),
            expandable=frozenset(spec["expandable"]),
            fixture=marshal.dumps(fixture),
            items=items,
            prefix=_id_prefix(fixture["id"]),
            time_field=time_field,
        )
    return found


#: Child collections that are an embedded list of their parent: (parent's path, its list, the
#: field of each child naming the parent). The others are collections of their own, by concrete path.
EMBEDDED_CHILDREN: dict[str, tuple[str, str, str]] = {
    "subscription_items": ("subscriptions", "items", "subscription"),
    "accounts/{account}/external_accounts": ("accounts", "external_accounts", "account"),
}
#: The field of a child in a collection of its own that names its parent.
CHILD_FIELDS = {
    "customers/{customer}/balance_transactions": "customer",
    "accounts/{account}/persons": "account",
}


def child_template(path: str) -> tuple[str, str] | None:
    """``customers/cus_1/balance_transactions[/…]`` → (its template, ``cus_1``), for a child path."""
    parts = path.strip("/").removeprefix("v1/").split("/")
    for template in resources():
        shape = template.split("/")
        if (
            "{" in template
            and len(parts) >= len(shape)
            and all(want == have or want.startswith("{") for want, have in zip(shape, parts, strict=False))
        ):
            index = next(i for i, want in enumerate(shape) if want.startswith("{"))
            return template, unquote(parts[index])
    return None


def resource_for(path: str) -> Resource:
    """The resource of a list path (``"invoices"``, ``"/v1/checkout/sessions"`` …)."""
    name = path.strip("/").removeprefix("v1/")
    found = resources().get(name)
    if found is None:
        raise ValueError(
            f"Not a Stripe list path of {OBJECTS_FILE.name}: {path!r} (one of {sorted(resources())})"
        )
    return found


def match_resource(path: str) -> tuple[Resource, list[str]] | None:
    """The generic resource a request path is under, and the path's segments after its list path."""
    if not path.startswith("/v1/"):
        return None
    rest = path[len("/v1/") :]
    child = child_template(rest)
    if child is not None:  # a child collection: its concrete path (parent unescaped) names its collection
        template, parent_id = child
        concrete = template.replace(template[template.index("{") : template.index("}") + 1], parent_id)
        after = rest.split("/")[len(template.split("/")) :]  # still escaped, as the caller unquotes them
        child = dataclasses.replace(
            resources()[template], path=concrete, template=template, parent_id=parent_id
        )
        return child, after
    for name in sorted(resources(), key=len, reverse=True):
        if name in ("customers", "events") or "{" in name:
            continue  # their own handlers
        if rest == name:
            return resources()[name], []
        if rest.startswith(name + "/"):
            return resources()[name], rest[len(name) + 1 :].split("/")
    return None


def as_text(value: Any) -> str | None:
    """A field's value as filters and searches compare it: strings as they are, numbers and
    booleans as their JSON text, an expanded object as its id; anything else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def split_key(key: str) -> tuple[str, str | None]:
    """``due_date[gte]`` → (``due_date``, ``gte``); ``ids[]`` → (``ids``, ``""``); ``email`` →
    (``email``, None). A malformed key stays whole (and is an unknown parameter)."""
    outer, bracket, inner = key.partition("[")
    if not bracket:
        return key, None
    if not inner.endswith("]") or "[" in inner or "]" in inner[:-1]:
        return key, None
    return outer, inner[:-1]


def is_index(inner: str | None) -> bool:
    """An array parameter's brackets: ``[]`` or ``[0]`` (as Stripe's libraries send them)."""
    return inner is not None and (inner == "" or inner.isdigit())


# -- search: a subset of Stripe's search query language ----------------------------------------
_MISSING = object()
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_OPERATOR = re.compile(r">=|<=|[:~<>]")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_NULL = re.compile(r"null(?![A-Za-z0-9_])")
_JOIN = re.compile(r"(AND|OR)(?=\s|$)", re.IGNORECASE)


@dataclass(frozen=True)
class Clause:
    """One clause of a search query: ``[-]field op value``."""

    negate: bool
    field: tuple[str, ...]  # a dotted path, or ("metadata", key)
    op: str  # ":", "~", ">", ">=", "<", "<="
    value: str | None  # None: ``null``
    number: float | None  # the value as a number, when it is one

    def matches(self, obj: dict[str, Any]) -> bool:
        have: Any = obj
        for part in self.field:
            have = have.get(part, _MISSING) if isinstance(have, dict) else _MISSING
        return self._compare(have) != self.negate

    def _compare(self, have: Any) -> bool:
        if have is _MISSING:
            return False  # a field the object does not have matches nothing
        if self.op == ":":
            if self.value is None:
                return have is None
            candidates = have if isinstance(have, list) else [have]
            return any((as_text(c) or "\0").lower() == self.value.lower() for c in candidates)
        if self.op == "~":
            text = as_text(have)
            return text is not None and self.value is not None and self.value.lower() in text.lower()
        if not isinstance(have, int | float) or isinstance(have, bool) or self.number is None:
            return False
        return {
            ">": have > self.number,
            ">=": have >= self.number,
            "<": have < self.number,
            "<=": have <= self.number,
        }[self.op]


def _query_error(message: str) -> StripeError:
    return StripeError(400, f"Invalid search query: {message}", param="query")


def _quoted(text: str, i: int) -> tuple[str, int]:
    """The string quoted at ``text[i]`` (``'…'`` or ``"…"``, backslash escapes) and the index after it."""
    quote, start, i = text[i], i, i + 1
    out: list[str] = []
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif char == quote:
            return "".join(out), i + 1
        else:
            out.append(char)
            i += 1
    raise _query_error(f"unterminated string starting at position {start}.")


def _clause(text: str, i: int) -> tuple[Clause, int]:
    negate = text.startswith("-", i)
    i += negate
    if text.startswith("metadata[", i):
        i += len("metadata[")
        if i >= len(text) or text[i] not in "'\"":
            raise _query_error(f"a metadata key must be quoted, as in metadata['key'] (position {i}).")
        key, i = _quoted(text, i)
        if not text.startswith("]", i):
            raise _query_error(f"expected ']' after the metadata key at position {i}.")
        field: tuple[str, ...] = ("metadata", key)
        i += 1
    else:
        name = _FIELD.match(text, i)
        if name is None:
            raise _query_error(f"expected a field name at position {i}.")
        field = tuple(name.group().split("."))
        i = name.end()
    operator = _OPERATOR.match(text, i)
    if operator is None:
        raise _query_error(
            f"expected an operator (:, ~, >, >=, <, <=) after '{'.'.join(field)}' at position {i}."
        )
    op, i = operator.group(), operator.end()
    value: str | None
    if i < len(text) and text[i] in "'\"":
        value, i = _quoted(text, i)
    elif number := _NUMBER.match(text, i):
        value, i = number.group(), number.end()
    elif op == ":" and (null := _NULL.match(text, i)):
        value, i = None, null.end()
    else:
        raise _query_error(f"expected a quoted value ('…' or \"…\") or a number at position {i}.")
    if i < len(text) and not text[i].isspace():
        raise _query_error(f"unexpected {text[i]!r} at position {i}.")
    try:
        numeric = float(value) if value is not None else None
    except ValueError:
        numeric = None
    if op == "~" and (value is None or len(value) < 3):
        raise _query_error("a substring (~) search needs a value of at least 3 characters.")
    if op in (">", ">=", "<", "<=") and numeric is None:
        raise _query_error(f"the comparison {op} needs a number.")
    return Clause(negate, field, op, value, numeric), i


def parse_search(text: str) -> tuple[list[Clause], str]:
    """A query's clauses and how they combine (``"AND"``: all; ``"OR"``: any). Clauses are joined by
    ``AND`` or ``OR`` (either case) or by a space (AND), never by both AND and OR."""
    clauses: list[Clause] = []
    joins: set[str] = set()
    i = 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        clause, i = _clause(text, i)
        clauses.append(clause)
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            break
        join = _JOIN.match(text, i)
        if join:
            joins.add(join.group().upper())
            i = join.end()
            if not text[i:].strip():
                raise _query_error(f"the query ends with {join.group()}.")
        else:
            joins.add("AND")
    if len(joins) > 1:
        raise _query_error("AND and OR cannot be combined in one query.")
    if len(clauses) > MAX_SEARCH_CLAUSES:
        raise _query_error(f"a query can have at most {MAX_SEARCH_CLAUSES} clauses.")
    return clauses, joins.pop() if joins else "AND"


def page_token(key: tuple[int, str], digest: str) -> str:
    """An opaque ``next_page``: where the page ended and which query it belongs to."""
    return base64.urlsafe_b64encode(json.dumps([key[0], key[1], digest]).encode()).decode().rstrip("=")


def read_page_token(token: str, digest: str) -> tuple[int, str]:
    try:
        created, last_id, owner = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if owner != digest or not isinstance(created, int) or not isinstance(last_id, str):
            raise ValueError
    except (ValueError, TypeError):
        raise StripeError(
            400, f"Invalid page: '{token}' is not a page of this search query.", param="page"
        ) from None
    return created, last_id


def in_range(value: int, bounds: dict[str, int]) -> bool:
    """``value`` within a range filter's bounds (``eq``, ``gt``, ``gte``, ``lt``, ``lte``)."""
    checks = {
        "eq": value.__eq__,
        "gt": value.__gt__,
        "gte": value.__ge__,
        "lt": value.__lt__,
        "lte": value.__le__,
    }
    return all(checks[op](bound) for op, bound in bounds.items())


@dataclass
class Fault:
    """One injected fault: an HTTP status (with optional headers), a dropped connection, or a delay.

    ``transform`` rewrites the body of a success (malformed answers); ``cut`` sends
    part of the body and closes the connection (``"length"``: short of its
    Content-Length; ``"chunked"``: mid-way through chunked encoding); ``trickle``
    sends the whole answer one byte every ``trickle`` seconds.
    """

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    delay: float = 0.0
    code: str | None = None
    transform: Callable[[Any], Any] | None = None
    cut: str | None = None
    trickle: float = 0.0


class Collection:
    """The objects of one list path in one account, oldest first by (created, id), like the customers."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.keys: list[tuple[int, str]] = []  # (created, id), ascending
        self.index: dict[str, int] = {}
        self.sequence = 0  # ids handed out

    def add(self, keyed: Iterable[tuple[tuple[int, str], dict[str, Any]]]) -> None:
        new = sorted(keyed, key=lambda pair: pair[0])
        ids = [obj["id"] for _, obj in new]
        clash = next((i for i in ids if i in self.index), None)
        if clash is not None or len(set(ids)) < len(ids):
            raise ValueError(f"duplicate id: {clash or ids}")
        if new and self.keys and new[0][0] < self.keys[-1]:
            pairs = sorted([*zip(self.keys, self.items, strict=True), *new], key=lambda pair: pair[0])
            self.keys = [key for key, _ in pairs]
            self.items = [obj for _, obj in pairs]
            self.index = {obj["id"]: i for i, obj in enumerate(self.items)}
        else:
            for key, obj in new:
                self.index[obj["id"]] = len(self.items)
                self.keys.append(key)
                self.items.append(obj)


class Store:
    """The customers, events and other objects of one account, kept oldest first so that appends stay
    cheap."""

    def __init__(self) -> None:
        self.customers: list[dict[str, Any]] = []
        self.keys: list[tuple[int, str]] = []  # (created, id), ascending
        self.index: dict[str, int] = {}
        self.deleted: dict[str, dict[str, Any]] = {}
        #: Events oldest first by (created, order of emission): within a second, list order is
        #: the only order Stripe gives, and it is the order the events were emitted in.
        self.events: list[dict[str, Any]] = []
        self.event_keys: list[tuple[int, int]] = []  # (created, sequence), ascending
        self.event_index: dict[str, int] = {}
        self.sequence = 0
        #: Every other object type, by list path (``invoices``, ``checkout/sessions`` …).
        self.collections: dict[str, Collection] = {}

    def collection(self, path: str) -> Collection:
        found = self.collections.get(path)
        if found is None:
            found = self.collections[path] = Collection()
        return found

    def add(self, customers: Iterable[dict[str, Any]]) -> None:
        new = sorted(customers, key=lambda c: (c["created"], c["id"]))
        if new and self.keys and (new[0]["created"], new[0]["id"]) < self.keys[-1]:
            merged = sorted([*self.customers, *new], key=lambda c: (c["created"], c["id"]))
            self.customers = merged
        else:
            self.customers.extend(new)
        self._reindex()

    def live(self, customer_id: str) -> dict[str, Any]:
        """A customer that exists (not deleted), or Stripe's 404."""
        if customer_id not in self.index:
            raise StripeError(404, f"No such customer: '{customer_id}'", code="resource_missing", param="id")
        return self.customers[self.index[customer_id]]

    def replace(self, customer: dict[str, Any]) -> None:
        """Put a new version of a customer in the old one's place (same id and created)."""
        self.customers[self.index[customer["id"]]] = customer

    def delete(self, customer_id: str) -> None:
        position = self.index[customer_id]
        customer = self.customers[position]
        self.deleted[customer_id] = customer
        self.customers = [c for c in self.customers if c["id"] != customer_id]
        self._reindex()

    def _reindex(self) -> None:
        self.keys = [(c["created"], c["id"]) for c in self.customers]
        self.index = {c["id"]: i for i, c in enumerate(self.customers)}

    def add_event(self, event: dict[str, Any]) -> None:
        self.sequence += 1
        key = (event["created"], self.sequence)
        position = bisect.bisect(self.event_keys, key)
        self.event_keys.insert(position, key)
        self.events.insert(position, event)
        if position == len(self.events) - 1:
            self.event_index[event["id"]] = position
        else:
            self.event_index = {e["id"]: i for i, e in enumerate(self.events)}

    def newest_first(self) -> list[dict[str, Any]]:
        return list(reversed(self.customers))


class StripeError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type_, code, param
        self.headers = headers or {}


class FakeStripe(ThreadingHTTPServer):
    """The server. Configure through attributes; read ``requests`` for what was asked."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, api_keys: Iterable[str] = (DEFAULT_KEY,)):
        super().__init__((host, port), Handler)
        self.api_keys = set(api_keys)
        self.forbidden_keys: set[str] = set()
        self.accounts: dict[str, Store] = collections.defaultdict(Store)
        self.accounts[PLATFORM_ACCOUNT]  # the platform's own customers
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.faults: collections.deque[Fault] = collections.deque()
        self.fault_rate = 0.0
        self.random_faults: list[Fault] = []
        self.rng = random.Random(1234)
        self.latency = 0.0
        #: Stripe's limits, per second: overall (``global-rate``) and per endpoint (``endpoint-rate``,
        #: an endpoint being a method and a path with its ids left out), and requests in flight
        #: (``global-concurrency``). A request over one is answered 429 naming it in
        #: ``Stripe-Rate-Limited-Reason``; ``limited_by`` counts them by reason.
        self.rate_limit: int | None = None
        self.endpoint_rate_limit: int | None = None
        self.concurrency_limit: int | None = None
        #: How the rate limits count: None, a sliding one-second window (at most ``limit``
        #: requests in any second, the strictest reading); a number, a token bucket of that
        #: many tokens refilled at the limit's rate, the algorithm Stripe describes for its
        #: own limiters (a request arriving a little early is absorbed, not refused).
        self.rate_limit_burst: int | None = None
        self.limited_by: collections.Counter[str] = collections.Counter()
        self._endpoint_limits: dict[str, Limit] = collections.defaultdict(Limit)
        self.in_flight = 0
        self.log_requests = True
        self._limit = Limit()
        self.rate_limited = 0
        self._thread: threading.Thread | None = None
        #: The server's time (Unix seconds): when events happen and which ones are still kept.
        self.clock: Callable[[], float] = time.time
        self.api_version = API_VERSION

    # -- control ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeStripe:
        self._thread = threading.Thread(
            target=self.serve_forever, args=(0.05,), name="fake-stripe", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up mid-answer (a timeout, a closed iteration) is normal here."""
        import sys

        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def store(self, account: str = PLATFORM_ACCOUNT) -> Store:
        return self.accounts[account]

    def seed(
        self,
        count: int,
        *,
        start: int = 1_600_000_000,
        spacing: int = 60,
        account: str = PLATFORM_ACCOUNT,
        created: Iterable[int] | None = None,
        **overrides: Any,
    ) -> list[dict[str, Any]]:
        """Add ``count`` customers (``created`` evenly spaced unless given); return them newest first."""
        store = self.store(account)
        offset = len(store.customers) + len(store.deleted)
        times = list(created) if created is not None else [start + i * spacing for i in range(count)]
        rng = random.Random(offset + count)
        customers = [make_customer(offset + i, t, rng=rng, **overrides) for i, t in enumerate(times)]
        with self.lock:
            store.add(customers)
        return sorted(customers, key=lambda c: (c["created"], c["id"]), reverse=True)

    # -- mutations: each changes the account and emits its event, as Stripe does -----------
    def now(self) -> int:
        return int(self.clock())

    def emit(
        self,
        store: Store,
        type_: str,
        obj: dict[str, Any],
        *,
        at: int | None = None,
        previous: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Record the event ``type_`` for ``obj`` (a copy: later changes do not rewrite history)."""
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous is not None:
            data["previous_attributes"] = copy.deepcopy(previous)
        event = {
            "id": f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": self.api_version,
            "created": self.now() if at is None else at,
            "data": data,
            "livemode": bool(obj.get("livemode")),
            "pending_webhooks": 0,
            "request": {"id": request_id, "idempotency_key": None},
            "type": type_,
        }
        store.add_event(event)
        return event

    def create_customer(
        self,
        *,
        at: int | None = None,
        account: str = PLATFORM_ACCOUNT,
        request_id: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Create a customer at ``at`` (default: now) and emit ``customer.created``."""
        store = self.store(account)
        at = self.now() if at is None else at
        with self.lock:
            seq = len(store.customers) + len(store.deleted)
            customer = make_customer(seq, at, rng=random.Random(seq), **fields)
            store.add([customer])
            self.emit(store, "customer.created", customer, at=at, request_id=request_id)
        return customer

    def update_customer(
        self,
        customer_id: str,
        *,
        at: int | None = None,
        account: str = PLATFORM_ACCOUNT,
        request_id: str | None = None,
        **changes: Any,
    ) -> dict[str, Any]:
        """Change fields (``metadata`` merges; a key set to ``""`` or None is removed) and emit
        ``customer.updated`` with ``previous_attributes``. Nothing changed: no event."""
        store = self.store(account)
        with self.lock:
            old = store.live(customer_id)
            new = copy.deepcopy(old)
            for name, value in changes.items():
                if name not in UPDATABLE:
                    raise StripeError(400, f"Received unknown parameter: {name}", param=name)
                if name == "metadata":
                    merged = {**new["metadata"], **value}
                    new["metadata"] = {k: v for k, v in merged.items() if v not in ("", None)}
                elif name == "address":
                    new["address"] = {**(new["address"] or {}), **value}
                else:
                    new[name] = value
            previous = {name: old[name] for name in changes if old[name] != new[name]}
            if not previous:
                return new
            store.replace(new)
            self.emit(store, "customer.updated", new, at=at, previous=previous, request_id=request_id)
        return new

    def delete_customer(
        self,
        customer_id: str,
        *,
        at: int | None = None,
        account: str = PLATFORM_ACCOUNT,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Delete a customer and emit ``customer.deleted`` (its last state as ``data.object``)."""
        store = self.store(account)
        with self.lock:
            customer = store.live(customer_id)
            store.delete(customer_id)
            self.emit(store, "customer.deleted", customer, at=at, request_id=request_id)
        return {"id": customer_id, "object": "customer", "deleted": True}

    def customers_now(self, account: str = PLATFORM_ACCOUNT) -> dict[str, dict[str, Any]]:
        """The account's current customers by id (deep copies), for comparing with a synced table."""
        with self.lock:
            return {c["id"]: copy.deepcopy(c) for c in self.store(account).customers}

    def seed_objects(
        self,
        path: str,
        count: int,
        *,
        start: int = 1_600_000_000,
        spacing: int = 60,
        account: str = PLATFORM_ACCOUNT,
        created: Iterable[int] | None = None,
        embedded: dict[str, int] | None = None,
        parent: str | None = None,
        **overrides: Any,
    ) -> list[dict[str, Any]]:
        """Add ``count`` objects of the list path ``path`` (``"invoices"``, ``"checkout/sessions"``
        …): copies of Stripe's example object with new ids, ``created`` evenly spaced unless given,
        ``livemode`` false and ``overrides`` on top-level fields (a callable is called with the
        object's position, 0 …). ``embedded={"lines": 250}`` gives each that many items in that
        embedded list (default: the example's own items, new ids). Returns the stored objects, newest
        first. Customers go to :meth:`seed`; events only come from customer changes."""
        name = path.strip("/").removeprefix("v1/")
        if name == "customers":
            if embedded:
                raise ValueError("customers have no embedded lists to seed here")
            return self.seed(
                count, start=start, spacing=spacing, account=account, created=created, **overrides
            )
        if name == "events":
            raise ValueError(
                "events cannot be seeded: create_customer, update_customer and delete_customer emit them"
            )
        if name in EMBEDDED_CHILDREN or name in CHILD_FIELDS:
            if parent is None:
                raise ValueError(f"{name} is a child collection: give parent=<its parent's id>")
            return self._seed_children(name, parent, count, start, spacing, account, created, overrides)
        resource = resource_for(name)
        embedded = dict(embedded or {})
        unknown = sorted(set(embedded) - set(resource.lists))
        if unknown:
            raise ValueError(
                f"{resource.object} has no embedded list {unknown} (it has {list(resource.lists)})"
            )
        times = list(created) if created is not None else [start + i * spacing for i in range(count)]
        store = self.store(account)
        with self.lock:
            collection = store.collection(resource.path)
            first = collection.sequence + 1
            collection.sequence += len(times)
        with bulk_allocation():
            objects = [resource.make(first + i, at, i, embedded, overrides) for i, at in enumerate(times)]
            keyed = [
                ((obj[resource.time_field] if resource.time_field else at, obj["id"]), obj)
                for obj, at in zip(objects, times, strict=True)
            ]
        with self.lock:
            collection.add(keyed)
            if resource.path == "accounts" and account == PLATFORM_ACCOUNT:
                for obj in objects:
                    self.accounts[obj["id"]]  # a connected account: Stripe-Account may name it
        keyed.sort(key=lambda pair: pair[0], reverse=True)
        return [obj for _, obj in keyed]

    def _seed_children(
        self,
        template: str,
        parent: str,
        count: int,
        start: int,
        spacing: int,
        account: str,
        created: Iterable[int] | None,
        overrides: dict[str, Any],
    ) -> list[dict[str, Any]]:
        """Children of ``parent``: in its embedded list, or in a collection of their own."""
        resource = resources()[template]
        times = list(created) if created is not None else [start + i * spacing for i in range(count)]
        store = self.store(account)
        if template in EMBEDDED_CHILDREN:
            parent_path, prop, field = EMBEDDED_CHILDREN[template]
            with self.lock:
                collection = store.collection(parent_path)
                holder = collection.items[collection.index[parent]]  # KeyError: seed the parent first
                first = collection.sequence + 1
                collection.sequence += len(times)
                children = [
                    resource.make(first + i, at, i, {}, {field: parent, **overrides})
                    for i, at in enumerate(times)
                ]
                listed = holder.setdefault(prop, {"object": "list", "data": [], "has_more": False})
                listed["data"] = [*listed.get("data", []), *children]
            return children
        concrete = template.replace(template[template.index("{") : template.index("}") + 1], parent)
        return self.seed_objects_at(
            concrete, resource, times, account, {CHILD_FIELDS[template]: parent, **overrides}
        )

    def seed_objects_at(
        self, path: str, resource: Resource, times: list[int], account: str, overrides: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Objects of ``resource`` in the collection ``path`` (a child collection's concrete path)."""
        store = self.store(account)
        with self.lock:
            collection = store.collection(path)
            first = collection.sequence + 1
            collection.sequence += len(times)
        objects = [resource.make(first + i, at, i, {}, overrides) for i, at in enumerate(times)]
        keyed = [
            ((obj[resource.time_field] if resource.time_field else at, obj["id"]), obj)
            for obj, at in zip(objects, times, strict=True)
        ]
        with self.lock:
            collection.add(keyed)
        keyed.sort(key=lambda pair: pair[0], reverse=True)
        return [obj for _, obj in keyed]

    def connect_account(
        self, account_id: str | None = None, *, created: int | None = None, **overrides: Any
    ) -> dict[str, Any]:
        """A connected account: its own store (``Stripe-Account: acct_…`` works) and its account
        object, listed by ``GET /v1/accounts`` on the platform. Returns the account object."""
        account_id = account_id or f"acct_{secrets.token_hex(8)}"
        with self.lock:
            if account_id in self.store().collection("accounts").index:
                raise ValueError(f"account {account_id} is already connected")
        at = self.now() if created is None else created
        return self.seed_objects("accounts", 1, created=[at], id=account_id, **overrides)[0]

    def objects_now(self, path: str, account: str = PLATFORM_ACCOUNT) -> dict[str, dict[str, Any]]:
        """The account's current objects of a list path by id (deep copies, full embedded lists)."""
        name = path.strip("/").removeprefix("v1/")
        if name == "customers":
            return self.customers_now(account)
        with self.lock:
            if name == "events":
                objects = list(self.store(account).events)
            else:
                objects = list(self.store(account).collection(resource_for(name).path).items)
        # Stored objects are replaced, never changed in place: copying outside the lock is safe.
        return {obj["id"]: copy.deepcopy(obj) for obj in objects}

    def clear_log(self) -> None:
        with self.lock:
            self.requests.clear()

    # -- behaviour --------------------------------------------------------------------------
    def next_fault(self) -> Fault | None:
        with self.lock:
            if self.faults:
                return self.faults.popleft()
            if self.fault_rate and self.random_faults and self.rng.random() < self.fault_rate:
                return self.rng.choice(self.random_faults)
        return None

    def over_rate_limit(self, method: str = "GET", path: str = "/") -> str | None:
        """The limit this request, counted on arrival, is over (its 429 reason), or None.

        A request over a limit does not count against it, so a client that slows
        down gets through at the limit's rate."""
        with self.lock:
            now = time.monotonic()
            if self.concurrency_limit and self.in_flight >= self.concurrency_limit:
                reason = "global-concurrency"
            elif self.rate_limit and self._limit.full(now, self.rate_limit, self.rate_limit_burst):
                reason = "global-rate"
            elif self.endpoint_rate_limit and self._endpoint_limits[endpoint_of(method, path)].full(
                now, self.endpoint_rate_limit, self.rate_limit_burst
            ):
                reason = "endpoint-rate"
            else:
                if self.rate_limit:
                    self._limit.admit(now, self.rate_limit_burst)
                if self.endpoint_rate_limit:
                    self._endpoint_limits[endpoint_of(method, path)].admit(now, self.rate_limit_burst)
                return None
            self.rate_limited += 1
            self.limited_by[reason] += 1
            return reason


class Limit:
    """The requests one rate limit admitted: their arrival times over the last second (a sliding
    window), or the tokens left in a bucket when the server counts with one."""

    def __init__(self) -> None:
        self.window: collections.deque[float] = collections.deque()
        self.tokens: float | None = None
        self.refilled = 0.0

    def full(self, now: float, limit: int, burst: int | None) -> bool:
        """Whether a request arriving ``now`` is over ``limit`` per second."""
        if burst is None:
            self.tokens = None  # a bucket is filled afresh if the server counts with one again
            while self.window and now - self.window[0] >= 1.0:
                self.window.popleft()
            return len(self.window) >= limit
        self.tokens = float(burst) if self.tokens is None else self.tokens + (now - self.refilled) * limit
        self.tokens = min(self.tokens, float(burst))
        self.refilled = now
        return self.tokens < 1.0

    def admit(self, now: float, burst: int | None) -> None:
        """Count a request :meth:`full` let through."""
        if burst is None:
            self.window.append(now)
        else:
            assert self.tokens is not None
            self.tokens -= 1.0


def endpoint_of(method: str, path: str) -> str:
    """A request's endpoint for rate limits: its method and path, ids left out."""
    parts = path.strip("/").split("/")
    return " ".join(
        [
            method,
            *(part if i == 0 or part in ("search", "lines", "v1") else "*" for i, part in enumerate(parts)),
        ]
    )


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY a small body waits for the
    # client's delayed ACK (40 ms a request), as no real API server would make it wait.
    disable_nagle_algorithm = True
    server: FakeStripe

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self.handle_method("GET")

    def do_POST(self) -> None:
        self.handle_method("POST")

    def do_DELETE(self) -> None:
        self.handle_method("DELETE")

    def handle_method(self, method: str) -> None:
        request_id = f"req_{secrets.token_hex(7)}"
        parts = urlsplit(self.path)
        query = parse_qsl(parts.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True) if length else []
        entry = {
            "method": method,
            "path": parts.path,
            "query": query,
            "raw_path": self.path,
            "headers": dict(self.headers.items()),
            "request_id": request_id,
            "time": time.monotonic(),
        }
        if self.server.log_requests:
            with self.server.lock:
                self.server.requests.append(entry)
        limited = self.server.over_rate_limit(method, parts.path)  # counted on arrival, as Stripe does
        with self.server.lock:
            self.server.in_flight += 1
        try:
            self.answer(method, parts, query, form, entry, request_id, limited)
        finally:
            with self.server.lock:
                self.server.in_flight -= 1

    def answer(
        self,
        method: str,
        parts: Any,
        query: list[tuple[str, str]],
        form: list[tuple[str, str]],
        entry: dict[str, Any],
        request_id: str,
        limited: str | None,
    ) -> None:
        fault = self.server.next_fault()
        delay = self.server.latency + (fault.delay if fault else 0.0)
        if delay:
            time.sleep(delay)
        if fault and fault.drop:
            entry["status"] = "dropped"
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        try:
            if fault and fault.status:
                raise StripeError(
                    fault.status,
                    f"Injected fault {fault.status}",
                    type_="api_error" if fault.status >= 500 else "invalid_request_error",
                    code=fault.code or ("rate_limit" if fault.status == 429 else None),
                    headers=fault.headers,
                )
            if limited:
                raise StripeError(
                    429,
                    "Too many requests hit the API too quickly.",
                    code="rate_limit",
                    headers={"Stripe-Rate-Limited-Reason": limited},
                )
            store = self.authenticate()
            if method == "GET":
                body = self.route(parts.path, query, store)
            else:
                body = self.mutate(method, parts.path, form, store, request_id)
            status, headers = 200, {}
            if fault and fault.transform:
                body = fault.transform(body)
        except StripeError as err:
            status, headers = err.status, err.headers
            error: dict[str, Any] = {
                "type": err.type,
                "message": err.message,
                "request_log_url": f"https://dashboard.stripe.com/logs/{request_id}",
            }
            if err.code:
                error["code"] = err.code
                error["doc_url"] = f"https://stripe.com/docs/error-codes/{err.code.replace('_', '-')}"
            if err.param:
                error["param"] = err.param
            body = {"error": error}
        entry["status"] = status
        payload = json.dumps(body).encode()
        if fault and (fault.cut or fault.trickle):
            self.send_faulty(fault, status, payload, request_id)
            return
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Request-Id", request_id)
        if self.headers.get("Stripe-Version"):
            self.send_header("Stripe-Version", self.headers["Stripe-Version"])
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def send_faulty(self, fault: Fault, status: int, payload: bytes, request_id: str) -> None:
        """Send an answer that is cut off mid-body or trickles out byte by byte."""
        head = f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\nRequest-Id: {request_id}\r\n"
        if fault.cut == "chunked":
            half = payload[: len(payload) // 2]
            raw = (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + b"%x\r\n" % len(half) + half
        elif fault.cut == "length":
            raw = (head + f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload[: len(payload) // 2]
        else:
            raw = (head + f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload
        self.close_connection = True
        try:
            if fault.trickle:
                deadline = time.monotonic() + 30  # bounded: a trickle never outlives its test
                for byte in raw:
                    if time.monotonic() > deadline:
                        break
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(fault.trickle)
            else:
                self.wfile.write(raw)
                self.wfile.flush()
        except OSError:
            pass  # the client gave up, as it should
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def authenticate(self) -> Store:
        auth = self.headers.get("Authorization", "")
        key = ""
        if auth.startswith("Bearer "):
            key = auth[len("Bearer ") :]
        elif auth.startswith("Basic "):
            try:
                key = base64.b64decode(auth[len("Basic ") :]).decode().split(":", 1)[0]
            except ValueError:
                key = ""
        if not key:
            raise StripeError(401, "You did not provide an API key.")
        if key not in self.server.api_keys and key not in self.server.forbidden_keys:
            raise StripeError(
                401, f"Invalid API Key provided: {key[:8]}{'*' * 8}{key[-4:]}", code="api_key_invalid"
            )
        if key in self.server.forbidden_keys:
            raise StripeError(
                403,
                "The provided key does not have the required permissions for this "
                "endpoint. Having the 'rak_customer_read' permission would allow this request.",
                code="secret_key_required",
            )
        account = self.headers.get("Stripe-Account", PLATFORM_ACCOUNT)
        if account != PLATFORM_ACCOUNT and account not in self.server.accounts:
            raise StripeError(
                403,
                f"The provided key does not have access to account '{account}' "
                "(or that account does not exist).",
                type_="invalid_request_error",
                code="account_invalid",
            )
        return self.server.accounts[account]

    def route(self, path: str, query: list[tuple[str, str]], store: Store) -> dict[str, Any]:
        if path == "/v1/customers":
            return self.list_customers(query, store)
        if path == "/v1/customers/search":
            return self.search(resources()["customers"], query, store)
        if path.startswith("/v1/customers/") and path.count("/") == 3:
            return self.get_customer(unquote(path[len("/v1/customers/") :]), query, store)
        if path == "/v1/events":
            return self.list_events(query, store)
        if path.startswith("/v1/events/") and path.count("/") == 3:
            return self.get_event(unquote(path[len("/v1/events/") :]), query, store)
        if path == "/v1/subscription_items":
            return self.list_subscription_items(query, store)
        if path.startswith("/v1/subscription_items/") and path.count("/") == 3:
            item_id = unquote(path.rsplit("/", 1)[1])
            return self.get_embedded_child("subscription_items", None, item_id, query, store)
        found = match_resource(path)
        if found is not None:
            return self.route_resource(*found, path, query, store)
        raise StripeError(404, f"Unrecognized request URL (GET: {path}).")

    def mutate(
        self, method: str, path: str, form: list[tuple[str, str]], store: Store, request_id: str
    ) -> dict[str, Any]:
        account = self.headers.get("Stripe-Account", PLATFORM_ACCOUNT)
        fields: dict[str, Any] = {}
        for key, value in form:
            outer, _, inner = key.partition("[")
            if inner:
                if outer not in ("metadata", "address") or not inner.endswith("]"):
                    raise StripeError(400, f"Received unknown parameter: {key}", param=key)
                fields.setdefault(outer, {})[inner[:-1]] = value
            elif outer == "balance":
                fields[outer] = self.integer(value, outer)
            elif outer in UPDATABLE:
                fields[outer] = value or None
            else:
                raise StripeError(400, f"Received unknown parameter: {key}", param=key)
        server = self.server
        if method == "POST" and path == "/v1/customers":
            fields["metadata"] = {k: v for k, v in fields.get("metadata", {}).items() if v}
            if "address" in fields:
                blank = dict.fromkeys(("city", "country", "line1", "line2", "postal_code", "state"))
                fields["address"] = {**blank, **fields["address"]}
            return server.create_customer(account=account, request_id=request_id, **fields)
        if path.startswith("/v1/customers/") and path.count("/") == 3:
            customer_id = unquote(path[len("/v1/customers/") :])
            if method == "POST":
                return server.update_customer(customer_id, account=account, request_id=request_id, **fields)
            if method == "DELETE" and not fields:
                return server.delete_customer(customer_id, account=account, request_id=request_id)
        raise StripeError(404, f"Unrecognized request URL ({method}: {path}).")

    def get_customer(self, customer_id: str, query: list[tuple[str, str]], store: Store) -> dict[str, Any]:
        for key, _ in query:
            if key != "expand[]":
                raise StripeError(400, f"Received unknown parameter: {key}", param=key)
        with self.server.lock:
            position = store.index.get(customer_id)
            if position is not None:
                return store.customers[position]
            if customer_id in store.deleted:
                return {"id": customer_id, "object": "customer", "deleted": True}
        raise StripeError(404, f"No such customer: '{customer_id}'", code="resource_missing", param="id")

    def list_customers(self, query: list[tuple[str, str]], store: Store) -> dict[str, Any]:
        params, created = self.list_params(query, ("email", "test_clock"))
        email = params.get("email")
        if email is not None and len(email) > 512:
            raise StripeError(400, "Invalid string: too long (max 512).", param="email")
        test_clock = params.get("test_clock")

        def matches(customer: dict[str, Any]) -> bool:
            return (email is None or customer.get("email") == email) and (
                test_clock is None or customer.get("test_clock") == test_clock
            )

        with self.server.lock:
            return self.page(store.customers, store.keys, store.index, params, created, matches, "customer")

    def list_events(self, query: list[tuple[str, str]], store: Store) -> dict[str, Any]:
        names = [value for key, value in query if key == "types[]"]
        query = [(key, value) for key, value in query if key != "types[]"]
        params, created = self.list_params(query, ("type", "delivery_success"))
        if names and "type" in params:
            raise StripeError(
                400, "You may only specify one of these parameters: type, types.", param="types"
            )
        if len(names) > MAX_EVENT_TYPES:
            raise StripeError(400, f"You may pass at most {MAX_EVENT_TYPES} values for types.", param="types")
        pattern = params.get("type")
        if params.get("delivery_success") not in (None, "true", "false"):
            raise StripeError(400, "Invalid boolean: delivery_success", param="delivery_success")
        delivered = params.get("delivery_success") != "false"  # every webhook here succeeds
        kept_from = self.server.now() - EVENT_RETENTION

        def matches(event: dict[str, Any]) -> bool:
            if event["created"] < kept_from or not delivered:
                return False
            if names:
                return event["type"] in names
            return pattern is None or fnmatch.fnmatchcase(event["type"], pattern)

        with self.server.lock:
            return self.page(
                store.events, store.event_keys, store.event_index, params, created, matches, "event"
            )

    def get_event(self, event_id: str, query: list[tuple[str, str]], store: Store) -> dict[str, Any]:
        for key, _ in query:
            if key != "expand[]":
                raise StripeError(400, f"Received unknown parameter: {key}", param=key)
        with self.server.lock:
            position = store.event_index.get(event_id)
            if (
                position is not None
                and store.events[position]["created"] >= self.server.now() - EVENT_RETENTION
            ):
                return store.events[position]
        raise StripeError(404, f"No such event: '{event_id}'", code="resource_missing", param="id")

    # -- every other object type: generic handlers from the OpenAPI extract ------------------
    def route_resource(
        self, resource: Resource, segments: list[str], path: str, query: list[tuple[str, str]], store: Store
    ) -> dict[str, Any]:
        if resource.singleton and not segments:
            self.expansions([v for k, v in query if k == "expand[]"], resource, "")
            return resource.render(marshal.loads(resource.fixture))
        child = (resource.template, resource.parent_id) if resource.template else None
        if child is not None and child[0] in EMBEDDED_CHILDREN:  # lives in its parent's list
            template, parent_id = child
            if not segments:
                parent_path, prop, _ = EMBEDDED_CHILDREN[template]
                return self.list_embedded(
                    resources()[parent_path], parent_id, prop, query, store, f"/v1/{resource.path}",
                    param=template.split("/")[-1], filters=resources()[template].params,
                )  # fmt: skip
            if len(segments) == 1 and segments[0]:
                return self.get_embedded_child(template, parent_id, unquote(segments[0]), query, store)
        if child is not None:  # in a collection of its own: its parent must exist, as on Stripe
            template, parent_id = child
            parent_path = {"customer": "customers", "account": "accounts"}[CHILD_FIELDS[template]]
            with self.server.lock:
                exists = parent_id in (
                    store.index if parent_path == "customers" else store.collection(parent_path).index
                )
            if not exists:
                kind = parent_path[:-1]
                raise StripeError(404, f"No such {kind}: '{parent_id}'", code="resource_missing", param=kind)
        if not segments:
            return self.list_objects(resource, query, store)
        if segments == ["search"] and resource.search:
            return self.search(resource, query, store)
        if len(segments) == 1 and segments[0]:
            return self.get_object(resource, unquote(segments[0]), query, store)
        if (
            len(segments) == 2
            and segments[0]
            and segments[1] in resource.lists
            and (resource.path, segments[1]) != ("subscriptions", "items")  # Stripe: /v1/subscription_items
        ):
            object_id = unquote(segments[0])
            return self.list_embedded(
                resource, object_id, segments[1], query, store, resource.list_url(object_id, segments[1])
            )
        raise StripeError(404, f"Unrecognized request URL (GET: {path}).")

    def expansions(self, values: list[str], resource: Resource, prefix: str) -> set[str]:
        """The properties ``expand[]`` names (``prefix`` ``data.`` on lists), each one Stripe can expand."""
        expanded: set[str] = set()
        for value in values:
            if value == "total_count" and prefix:  # since 2025-03-31.basil, for every list
                raise StripeError(
                    400,
                    "The property total_count cannot be expanded on lists.",
                    code="property_forbidden",
                    param="expand",
                )
            top = value.removeprefix(prefix).split(".")[0] if value.startswith(prefix) else ""
            if top not in resource.expandable:
                raise StripeError(400, f"This property cannot be expanded ({value}).", param="expand")
            expanded.add(top)
        return expanded

    def get_object(
        self, resource: Resource, object_id: str, query: list[tuple[str, str]], store: Store
    ) -> dict[str, Any]:
        values = []
        for key, value in query:
            name, inner = split_key(key)
            if name != "expand" or not is_index(inner):
                raise StripeError(400, f"Received unknown parameter: {key}", param=key)
            values.append(value)
        expand = self.expansions(values, resource, "")
        with self.server.lock:
            collection = store.collection(resource.path)
            position = collection.index.get(object_id)
            if position is not None:
                return resource.render(collection.items[position], expand)
        raise StripeError(
            404, f"No such {resource.object}: '{object_id}'", code="resource_missing", param="id"
        )

    def list_objects(self, resource: Resource, query: list[tuple[str, str]], store: Store) -> dict[str, Any]:
        """A list with exactly the spec's parameters for this path, each filtering its field."""
        spec = resource.params
        paging: list[tuple[str, str]] = []
        created: dict[str, int] = {}
        values: list[str] = []
        equal: dict[str, str] = {}
        ranges: dict[str, dict[str, int]] = {}
        arrays: dict[str, set[str]] = {}
        objects: dict[str, dict[str, str]] = {}
        for key, value in query:
            name, inner = split_key(key)
            kind = spec.get(name)
            if name in ("limit", "starting_after", "ending_before") and inner is None:
                paging.append((key, value))
            elif name == "expand" and is_index(inner):
                values.append(value)
            elif kind is None or name in ("limit", "starting_after", "ending_before", "expand"):
                raise StripeError(400, f"Received unknown parameter: {key}", param=key)
            elif kind == "range":
                if inner is not None and inner not in ("gt", "gte", "lt", "lte"):
                    raise StripeError(400, f"Received unknown parameter: {key}", param=key)
                bounds = created if name == "created" else ranges.setdefault(name, {})
                bounds[inner or "eq"] = self.integer(value, key)
            elif kind == "array":
                if not is_index(inner) or name not in ARRAY_FILTERS:
                    raise StripeError(400, f"Received unknown parameter: {key}", param=key)
                arrays.setdefault(name, set()).add(value)
            elif kind == "object":
                if not inner or is_index(inner):
                    raise StripeError(400, f"Invalid object: {name} takes {name}[field]=value", param=name)
                objects.setdefault(name, {})[inner] = value
            elif inner is not None:
                raise StripeError(400, f"Received unknown parameter: {key}", param=key)
            elif kind == "boolean":
                if value not in ("true", "false"):
                    raise StripeError(400, f"Invalid boolean: {value}", param=name)
                equal[name] = value
            elif isinstance(kind, dict):
                if value not in kind["enum"]:
                    choices = ", ".join(kind["enum"])
                    raise StripeError(400, f"Invalid {name}: must be one of {choices}", param=name)
                equal[name] = value
            else:
                equal[name] = value
        params, _ = self.list_params(paging, ())
        expand = self.expansions(values, resource, "data.")
        status_check = None
        if resource.path == "subscriptions":
            status = equal.pop("status", None)
            status_check = SUBSCRIPTION_STATUSES.get(status, lambda have: have == status)
        getters = {
            name: DERIVED_FILTERS.get((resource.path, name), lambda o, name=name: o.get(name))
            for name in equal
        }
        ranged = {
            name: DERIVED_FILTERS.get((resource.path, name), lambda o, name=name: o.get(name))
            for name in ranges
        }

        def matches(obj: dict[str, Any]) -> bool:
            for name, want in equal.items():
                have = getters[name](obj)
                if not any(as_text(h) == want for h in (have if isinstance(have, list) else [have])):
                    return False
            for name, wanted in arrays.items():
                if as_text(obj.get(ARRAY_FILTERS[name])) not in wanted:
                    return False
            for name, bounds in ranges.items():
                have = ranged[name](obj)
                if not isinstance(have, int) or isinstance(have, bool) or not in_range(have, bounds):
                    return False
            for name, fields in objects.items():
                have = obj.get(name)
                if not isinstance(have, dict) or any(as_text(have.get(k)) != v for k, v in fields.items()):
                    return False
            return status_check is None or status_check(obj.get("status"))

        filtered = bool(equal or arrays or ranges or objects or status_check)
        with self.server.lock:
            collection = store.collection(resource.path)
            page = self.page(
                collection.items,
                collection.keys,
                collection.index,
                params,
                created,
                matches if filtered else lambda obj: True,
                resource.object,
            )
            page["data"] = [resource.render(obj, expand) for obj in page["data"]]
        page["url"] = f"/v1/{resource.path}"
        return page

    def list_embedded(
        self,
        resource: Resource,
        object_id: str,
        prop: str,
        query: list[tuple[str, str]],
        store: Store,
        url: str,
        param: str = "id",
        filters: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The full embedded list ``prop`` of an object, paged in its stored order.

        ``filters``: the enum filters a child collection's list takes (external accounts' ``object``)."""
        paging = []
        wanted: dict[str, str] = {}
        for key, value in query:
            name, inner = split_key(key)
            kind = (filters or {}).get(name)
            if name in ("limit", "starting_after", "ending_before") and inner is None:
                paging.append((key, value))
            elif isinstance(kind, dict) and inner is None:
                if value not in kind["enum"]:
                    raise StripeError(
                        400, f"Invalid {name}: must be one of {', '.join(kind['enum'])}", param=name
                    )
                wanted[name] = value
            elif name != "expand" or not is_index(inner):
                raise StripeError(400, f"Received unknown parameter: {key}", param=key)
        params, _ = self.list_params(paging, ())
        limit = int(params.get("limit", "10"))
        with self.server.lock:
            collection = store.collection(resource.path)
            position = collection.index.get(object_id)
            if position is None:
                raise StripeError(
                    404, f"No such {resource.object}: '{object_id}'", code="resource_missing", param=param
                )
            data = (collection.items[position].get(prop) or {}).get("data") or []
        data = [item for item in data if all(item.get(k) == v for k, v in wanted.items())]
        cursor = params.get("starting_after") or params.get("ending_before")
        if cursor is None:
            page, has_more = data[:limit], len(data) > limit
        else:
            at = next((i for i, item in enumerate(data) if item.get("id") == cursor), None)
            if at is None:
                which = "starting_after" if params.get("starting_after") else "ending_before"
                what = resource.item_object(prop)
                raise StripeError(400, f"No such {what}: '{cursor}'", code="resource_missing", param=which)
            if params.get("starting_after"):
                page, has_more = data[at + 1 : at + 1 + limit], at + 1 + limit < len(data)
            else:
                first = max(0, at - limit)
                page, has_more = data[first:at], first > 0
        return {"object": "list", "data": page, "has_more": has_more, "url": url}

    def get_embedded_child(
        self, template: str, parent_id: str | None, child_id: str, query: list[tuple[str, str]], store: Store
    ) -> dict[str, Any]:
        """One child kept in its parent's embedded list (a subscription item, an external account)."""
        parent_path, prop, _ = EMBEDDED_CHILDREN[template]
        for key, _value in query:
            if key != "expand[]":
                raise StripeError(400, f"Received unknown parameter: {key}", param=key)
        with self.server.lock:
            collection = store.collection(parent_path)
            parents = collection.items if parent_id is None else (
                [collection.items[collection.index[parent_id]]] if parent_id in collection.index else []
            )  # fmt: skip
            for parent in parents:
                for item in (parent.get(prop) or {}).get("data") or []:
                    if item.get("id") == child_id:
                        return item
        child = resources()[template].object
        raise StripeError(404, f"No such {child}: '{child_id}'", code="resource_missing", param="id")

    def list_subscription_items(self, query: list[tuple[str, str]], store: Store) -> dict[str, Any]:
        """``GET /v1/subscription_items?subscription=…``: where a subscription's ``items`` page on."""
        subscription = next((value for key, value in query if key == "subscription"), None)
        if not subscription:
            raise StripeError(
                400, "Missing required param: subscription.", code="parameter_missing", param="subscription"
            )
        rest = [(key, value) for key, value in query if key != "subscription"]
        subscriptions = resources()["subscriptions"]
        return self.list_embedded(
            subscriptions, subscription, "items", rest, store, "/v1/subscription_items", param="subscription"
        )

    def search(self, resource: Resource, query: list[tuple[str, str]], store: Store) -> dict[str, Any]:
        """``GET /v1/<path>/search``: newest first by (created, id), paged by an opaque token."""
        text: str | None = None
        limit_value, token = "10", None
        values: list[str] = []
        for key, value in query:
            name, inner = split_key(key)
            if key == "query":
                text = value
            elif key == "limit":
                limit_value = value
            elif key == "page":
                token = value
            elif name == "expand" and is_index(inner):
                values.append(value)
            else:
                raise StripeError(400, f"Received unknown parameter: {key}", param=key)
        if text is None or not text.strip():
            raise StripeError(400, "Missing required param: query.", code="parameter_missing", param="query")
        limit = self.integer(limit_value, "limit")
        if not 1 <= limit <= 100:
            raise StripeError(
                400, f"This value must be between 1 and 100 (it currently is {limit}).", param="limit"
            )
        clauses, mode = parse_search(text)
        total = "total_count" in values
        expand = self.expansions([v for v in values if v != "total_count"], resource, "data.")
        digest = hashlib.sha256(f"{resource.path}\n{text}".encode()).hexdigest()[:16]
        after = read_page_token(token, digest) if token else None
        combine = all if mode == "AND" else any

        def matches(obj: dict[str, Any]) -> bool:
            return combine(clause.matches(obj) for clause in clauses)

        customers = resource.path == "customers"
        with self.server.lock:
            if customers:
                items, keys = store.customers, store.keys
            else:
                collection = store.collection(resource.path)
                items, keys = collection.items, collection.keys
            i = (bisect.bisect_left(keys, after) if after else len(items)) - 1
            found: list[int] = []
            has_more = False
            while i >= 0:
                if matches(items[i]):
                    if len(found) == limit:
                        has_more = True
                        break
                    found.append(i)
                i -= 1
            data = [items[j] if customers else resource.render(items[j], expand) for j in found]
            result: dict[str, Any] = {
                "object": "search_result",
                "data": data,
                "has_more": has_more,
                "next_page": page_token(keys[found[-1]], digest) if has_more else None,
                "url": f"/v1/{resource.path}/search",
            }
            if total:
                result["total_count"] = sum(1 for obj in items if matches(obj))
        return result

    def list_params(
        self, query: list[tuple[str, str]], filters: tuple[str, ...]
    ) -> tuple[dict[str, str], dict[str, int]]:
        """A list request's cursors, limit and ``filters``, and its ``created`` bounds, validated."""
        params: dict[str, str] = {}
        created: dict[str, int] = {}
        for key, value in query:
            if key.startswith("created[") and key.endswith("]"):
                op = key[len("created[") : -1]
                if op not in ("gt", "gte", "lt", "lte"):
                    raise StripeError(400, f"Received unknown parameter: {key}", param=key)
                created[op] = self.integer(value, key)
            elif key == "created":
                created["eq"] = self.integer(value, key)
            elif key in ("limit", "starting_after", "ending_before", *filters):
                params[key] = value
            elif key == "expand[]" and value == "total_count":
                self.expansions([value], resource_for("customers"), "data.")  # basil's refusal
            elif key != "expand[]":
                raise StripeError(400, f"Received unknown parameter: {key}", param=key)
        limit = self.integer(params.get("limit", "10"), "limit")
        if not 1 <= limit <= 100:
            raise StripeError(
                400, f"This value must be between 1 and 100 (it currently is {limit}).", param="limit"
            )
        if params.get("starting_after") and params.get("ending_before"):
            raise StripeError(
                400,
                "You may only specify one of these parameters: ending_before, starting_after.",
                param="ending_before",
            )
        return params, created

    @staticmethod
    def page(
        items: list[dict[str, Any]],
        keys: list[tuple[int, Any]],
        index: dict[str, int],
        params: dict[str, str],
        created: dict[str, int],
        matches: Callable[[dict[str, Any]], bool],
        what: str,
    ) -> dict[str, Any]:
        """One page of ``items`` (oldest first, ``keys[i][0]`` their created), newest first."""
        limit = int(params.get("limit", "10"))
        lower = max(created.get("gte", 0), created.get("gt", -1) + 1, created.get("eq", 0))
        upper = min(
            created.get("lt", 2**53),
            created.get("lte", 2**53) + 1,
            created["eq"] + 1 if "eq" in created else 2**53,
        )
        # Indices of the created range in the ascending list: [lo, hi).
        lo = bisect.bisect_left(keys, lower, key=lambda k: k[0])
        hi = bisect.bisect_left(keys, upper, key=lambda k: k[0])
        page: list[dict[str, Any]] = []
        has_more = False
        cursor = params.get("starting_after") or params.get("ending_before")
        if cursor is not None and cursor not in index:
            which = "starting_after" if params.get("starting_after") else "ending_before"
            raise StripeError(400, f"No such {what}: '{cursor}'", code="resource_missing", param=which)
        if params.get("ending_before"):
            # Objects newer than the cursor, the oldest `limit` of them, shown newest first.
            i = max(index[params["ending_before"]] + 1, lo)
            while i < hi:
                if matches(items[i]):
                    if len(page) == limit:
                        has_more = True
                        break
                    page.append(items[i])
                i += 1
            page.reverse()
        else:
            i = hi - 1
            if params.get("starting_after"):
                i = min(i, index[params["starting_after"]] - 1)
            while i >= lo:
                if matches(items[i]):
                    if len(page) == limit:
                        has_more = True
                        break
                    page.append(items[i])
                i -= 1
        return {"object": "list", "data": page, "has_more": has_more, "url": f"/v1/{what}s"}

    @staticmethod
    def integer(value: str, param: str) -> int:
        try:
            return int(value)
        except ValueError:
            raise StripeError(400, f"Invalid integer: {value}", param=param) from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--key", default=DEFAULT_KEY)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--rate-limit", type=int, default=None, help="requests per second, overall")
    parser.add_argument("--endpoint-rate-limit", type=int, default=None, help="per endpoint, per second")
    parser.add_argument("--concurrency-limit", type=int, default=None, help="requests in flight")
    parser.add_argument(
        "--rate-limit-burst",
        type=int,
        default=None,
        help="count the rate limits with a token bucket of this many tokens (default: a sliding second)",
    )
    parser.add_argument("--days", type=int, default=30, help="spread created over the last N days")
    parser.add_argument(
        "--objects",
        action="append",
        default=[],
        metavar="PATH=COUNT",
        help="also seed COUNT objects of a list path (invoices=2000, checkout/sessions=100); repeatable",
    )
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("this test server only listens on loopback")
    seeds: list[tuple[str, int]] = []
    for spec in args.objects:
        path, _, count = spec.partition("=")
        if not count.isdigit() or path.strip("/").removeprefix("v1/") not in set(resources()) - {"events"}:
            parser.error(f"--objects takes PATH=COUNT with a list path of {OBJECTS_FILE.name}: {spec!r}")
        seeds.append((path, int(count)))
    server = FakeStripe(args.host, args.port, api_keys=[args.key])
    server.latency, server.rate_limit, server.log_requests = args.latency, args.rate_limit, False
    server.endpoint_rate_limit, server.concurrency_limit = args.endpoint_rate_limit, args.concurrency_limit
    server.rate_limit_burst = args.rate_limit_burst
    now = int(time.time())
    rng = random.Random(42)
    span = args.days * 86400
    server.seed(args.customers, created=sorted(now - rng.randrange(span) for _ in range(args.customers)))
    for path, count in seeds:
        server.seed_objects(path, count, created=sorted(now - rng.randrange(span) for _ in range(count)))
    print(server.url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
