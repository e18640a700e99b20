"""Output writing: JSON and JSON Lines are whole and valid at every batch boundary."""

from __future__ import annotations

import gzip
import json

import pytest

from airflow_provider_stripe.exceptions import StripeParameterError
from airflow_provider_stripe.utils.output import (
    WRITE_BATCH,
    check_format,
    resolve_path,
    write_object,
    write_records,
)


@pytest.mark.parametrize("count", [0, 1, WRITE_BATCH - 1, WRITE_BATCH, WRITE_BATCH + 1, 2 * WRITE_BATCH + 3])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_every_batch_boundary(tmp_path, count, suffix):
    records = [{"id": f"cus_{i}", "name": "Zoë ✨", "n": i} for i in range(count)]
    for output_format in ("json", "jsonl"):
        target = tmp_path / f"out.{output_format}{suffix}"
        written = write_records(
            resolve_path(str(target)), iter(records), output_format=output_format, has_more=lambda: count > 3
        )
        assert written == count
        raw = target.read_bytes()
        text = (gzip.decompress(raw) if suffix else raw).decode("utf-8")
        if output_format == "json":
            assert json.loads(text) == {
                "object": "list",
                "url": "/v1/customers",
                "data": records,
                "has_more": count > 3,
            }
        else:
            assert [json.loads(line) for line in text.splitlines()] == records
        assert "Zoë ✨" in text or count == 0


def test_failure_inside_the_stream_leaves_nothing(tmp_path):
    def records():
        yield {"id": "cus_1"}
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_records(resolve_path(str(tmp_path / "x.jsonl")), records(), output_format="jsonl")
    assert list(tmp_path.iterdir()) == []


def test_write_object_and_path_checks(tmp_path):
    write_object(resolve_path(f"file://{tmp_path}/one.json"), {"id": "cus_1"})
    assert json.loads((tmp_path / "one.json").read_text()) == {"id": "cus_1"}
    with pytest.raises(StripeParameterError, match="output_format"):
        check_format("csv")
    for bad in ("", "   ", f"{tmp_path}/dir/"):
        with pytest.raises(StripeParameterError, match="output_path"):
            resolve_path(bad)
