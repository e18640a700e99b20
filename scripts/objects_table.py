"""Print (or, with ``--write``, put into docs/objects.md) the table of every registered object.

The table is generated from the registry, so the docs never drift from what the provider
accepts; ``tests/test_registry.py`` fails when docs/objects.md holds another table::

    .venv/bin/python scripts/objects_table.py --write
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from airflow_provider_stripe.api.registry import RESOURCES, Resource

DOC = Path(__file__).resolve().parent.parent / "docs" / "objects.md"
BEGIN = "<!-- objects table: generated from the registry by scripts/objects_table.py -->"
END = "<!-- end of the objects table -->"


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


def with_table(text: str) -> str:
    """``text`` (docs/objects.md) with its generated table replaced by the registry's."""
    start, end = text.index(BEGIN), text.index(END)
    return f"{text[: start + len(BEGIN)]}\n{table()}\n{text[end:]}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write", action="store_true", help="update docs/objects.md in place")
    if parser.parse_args().write:
        DOC.write_text(with_table(DOC.read_text()))
    else:
        print(table())


if __name__ == "__main__":
    main()
