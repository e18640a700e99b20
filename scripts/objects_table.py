"""Print (or, with ``--write``, put into the docs) the tables of every registered object.

docs/objects.md gets what each object's list accepts, docs/change-capture.md which events
carry each object. Both are generated from the registry, so the docs never drift from what
the provider does; ``tests/test_registry.py`` fails when a page holds another table::

    .venv/bin/python scripts/objects_table.py --write
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from airflow_provider_stripe.api.events import OBJECT_EVENTS
from airflow_provider_stripe.api.registry import RESOURCES, Resource

DOCS = Path(__file__).resolve().parent.parent / "docs"
DOC = DOCS / "objects.md"
EVENTS_DOC = DOCS / "change-capture.md"
BEGIN = "<!-- objects table: generated from the registry by scripts/objects_table.py -->"
END = "<!-- end of the objects table -->"
EVENTS_BEGIN = "<!-- events table: generated from the registry by scripts/objects_table.py -->"
EVENTS_END = "<!-- end of the events table -->"


def _code(names: list[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


def _filters(row: Resource) -> str:
    shown = []
    for name in row.filters:
        default = row.list_defaults.get(name)
        shown.append(f"`{name}`" + (f" (default `{default}`)" if default is not None else ""))
    if row.unsupported_filters:
        shown.append(f"not supported: {_code(list(row.unsupported_filters))}")
    return ", ".join(shown)


def table() -> str:
    """The Markdown table, one row per resource in the registry's order."""
    lines = [
        "| resource | `object` | `created` | filters | embedded lists | search |",
        "|---|---|---|---|---|---|",
    ]
    for row in RESOURCES.values():
        name = f"`{row.name}`" if row.name == row.path else f"`{row.name}` (`{row.path}`)"
        if row.singleton:
            name += ", one object: `get_object` with no id"
        elif row.parent is not None:
            name += f", per `{row.parent}`: `parent_id`"
        cells = [
            name,
            _code(list(row.objects)),
            "yes" if row.created else "no",
            _filters(row),
            _code(list(row.lists)),
            "yes" if row.searchable else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def events_table() -> str:
    """Which events carry each object, what deletes it, and where events fall short."""
    lines = [
        "| `object` | events | deletes it | no creation event | changes without events | never changes |",
        "|---|---|---|---|---|---|",
    ]
    for name, events in sorted(OBJECT_EVENTS.items()):
        cells = [
            f"`{name}`",
            _code(list(events.types)),
            _code(list(events.deletes)),
            "" if events.created_event else "yes",
            "yes" if events.changes_silently else "",
            "yes" if events.immutable else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _replaced(text: str, begin: str, end: str, body: str) -> str:
    start, stop = text.index(begin), text.index(end)
    return f"{text[: start + len(begin)]}\n{body}\n{text[stop:]}"


def with_table(text: str) -> str:
    """``text`` (docs/objects.md) with its generated table replaced by the registry's."""
    return _replaced(text, BEGIN, END, table())


def with_events_table(text: str) -> str:
    """``text`` (docs/change-capture.md) with its generated events table replaced."""
    return _replaced(text, EVENTS_BEGIN, EVENTS_END, events_table())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write", action="store_true", help="update docs/objects.md in place")
    if parser.parse_args().write:
        DOC.write_text(with_table(DOC.read_text()))
        EVENTS_DOC.write_text(with_events_table(EVENTS_DOC.read_text()))
    else:
        print(table(), events_table(), sep="\n\n")


if __name__ == "__main__":
    main()
