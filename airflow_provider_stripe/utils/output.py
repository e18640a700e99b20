"""Writing results to object storage, atomically.

Everything is written to a temporary sibling of the destination
(``.<name>.<32 hex>.partial``) and moved into place only once complete, so the
destination holds either the whole new object or what it held before. On any
error the temporary object is removed. A process killed outright (``SIGKILL``,
out of memory, a lost machine) cannot remove it: the next write to the same
destination removes every such sibling before it starts.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import IO, Any

from airflow.sdk import ObjectStoragePath

from airflow_provider_stripe.exceptions import StripeError, StripeParameterError

FORMATS = ("jsonl", "json")


def check_format(output_format: Any) -> str:
    """``"jsonl"`` or ``"json"``, else an error naming ``output_format``."""
    if output_format not in FORMATS:
        raise StripeParameterError("output_format", f"must be one of {FORMATS}, got {output_format!r}")
    return str(output_format)


def resolve_path(output_path: str | ObjectStoragePath, conn_id: str | None = None) -> ObjectStoragePath:
    """An :class:`ObjectStoragePath` for a str (with ``conn_id``) or a path object as given."""
    if isinstance(output_path, ObjectStoragePath):
        return output_path
    if not isinstance(output_path, str) or not output_path.strip():
        raise StripeParameterError("output_path", f"must be a non-empty path or URI, got {output_path!r}")
    text = output_path.strip()
    if "://" not in text:  # a plain local path: make it an absolute file:// URI
        text = f"file://{os.path.abspath(text)}"
    try:
        path = ObjectStoragePath(text, conn_id=conn_id or None)
    except Exception as exc:
        raise StripeParameterError("output_path", f"cannot use {output_path!r}: {exc}") from exc
    if not path.name or output_path.rstrip().endswith("/"):
        raise StripeParameterError("output_path", f"{output_path!r} names a directory, not a file")
    return path


def check_destination(path: ObjectStoragePath) -> ObjectStoragePath:
    """Refuse a destination that is an existing directory (or prefix), before anything is fetched."""
    try:
        is_dir = path.is_dir()
    except Exception:  # an unreachable store is reported when writing, with the store's own error
        is_dir = False
    if is_dir:
        raise StripeParameterError("output_path", f"{str(path)!r} is an existing directory, not a file")
    return path


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
#: Records encoded per write: each write through ObjectStoragePath has a fixed cost (lineage
#: tracking), so writes are batched; memory stays bounded by one batch.
WRITE_BATCH = 500


def _dumps(record: Any) -> bytes:
    return _ENCODER.encode(record).encode()


def _remove_stale_partials(path: ObjectStoragePath) -> None:
    """Remove temporary siblings that killed writers to ``path`` left behind."""
    stale = re.compile(rf"\.{re.escape(path.name)}\.[0-9a-f]{{32}}\.partial")
    try:
        siblings = list(path.parent.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return
    for sibling in siblings:
        if stale.fullmatch(sibling.name) and not sibling.is_dir():
            with suppress(FileNotFoundError):  # another writer removed it first
                sibling.unlink()


@contextmanager
def atomic_open(path: ObjectStoragePath) -> Iterator[IO[bytes]]:
    """A binary file that appears at ``path`` only when the block completes (gzip for ``.gz``)."""
    check_destination(path)
    temporary = path.parent / f".{path.name}.{uuid.uuid4().hex}.partial"
    if path.protocol in ("file", "local", ""):
        path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(path)
    try:
        with temporary.open("wb") as raw:  # type: ignore[no-untyped-call]
            if path.name.endswith(".gz"):
                with gzip.GzipFile(filename=path.name[:-3], fileobj=raw, mode="wb", mtime=0) as zipped:
                    yield zipped  # type: ignore[misc]
            else:
                yield raw
        try:
            temporary.fs.mv(temporary.path, path.path)
        except FileNotFoundError:
            raise StripeError(
                f"Another write to {str(path)!r} started meanwhile and removed this one's temporary "
                "file; nothing was half-written. Give concurrent tasks different output paths."
            ) from None
    except BaseException:
        if temporary.exists():
            temporary.unlink()
        raise


def write_records(
    path: ObjectStoragePath,
    records: Iterable[dict[str, Any]],
    *,
    output_format: str,
    has_more: Callable[[], bool] = lambda: False,
    list_url: str = "/v1/customers",
) -> int:
    """Stream ``records`` to ``path`` as JSON Lines or as a Stripe list object; return the count.

    ``has_more`` is read after the last record, for the list object's ``has_more``.
    """
    count = 0
    batch: list[bytes] = []
    jsonl = output_format == "jsonl"
    with atomic_open(path) as out:

        def flush() -> None:
            if jsonl:
                out.write(b"\n".join(batch) + b"\n")
            else:
                out.write((b",\n" if count > len(batch) else b"") + b",\n".join(batch))
            batch.clear()

        if not jsonl:
            out.write(b'{"object":"list","url":' + _dumps(list_url) + b',"data":[\n')
        for record in records:
            batch.append(_dumps(record))
            count += 1
            if len(batch) == WRITE_BATCH:
                flush()
        if batch:
            flush()
        if not jsonl:
            out.write(b'\n],"has_more":' + _dumps(has_more()) + b"}\n")
    return count


def write_object(path: ObjectStoragePath, obj: dict[str, Any]) -> None:
    """Write one JSON object to ``path`` atomically."""
    with atomic_open(path) as out:
        out.write(_dumps(obj) + b"\n")


def output_summary(
    path: ObjectStoragePath, *, records: int, output_format: str, has_more: bool
) -> dict[str, Any]:
    """What an operator returns after writing: enough for a downstream task to read the output."""
    return {"path": str(path), "records": records, "format": output_format, "has_more": has_more}
