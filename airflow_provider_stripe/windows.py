"""Which ``created`` window an incremental export reads, with or without a logical date.

A scheduled run, or a run triggered with a logical date, reads its data interval.
A run triggered with no logical date (``airflow dags trigger`` without ``-l``, the
REST API with ``"logical_date": null``, the UI with the date cleared) has no data
interval, so it reads the last full ``period`` (``"day"``, ``"hour"`` …, in UTC)
that ended before the run's ``run_after``: triggering a nightly export by hand
exports yesterday.

Register it as a macro (``user_defined_macros={"export_window": export_window}``)
and templates read ``{{ export_window(dag_run).start }}`` and
``{{ export_window(dag_run).end }}``; a ``@task`` can call it with its ``dag_run``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import pendulum


class Window(NamedTuple):
    """A half-open ``[start, end)`` window: pass it as ``created={"gte": start, "lt": end}``."""

    start: pendulum.DateTime
    end: pendulum.DateTime


def export_window(dag_run: Any, period: str = "day") -> Window:
    """The run's data interval, or with no logical date the last full ``period`` before ``run_after``."""
    if dag_run.data_interval_start is not None:  # scheduled, or triggered with a logical date
        return Window(
            pendulum.instance(dag_run.data_interval_start), pendulum.instance(dag_run.data_interval_end)
        )
    end = pendulum.instance(dag_run.run_after).in_tz("UTC").start_of(period)
    return Window(end.subtract(**{f"{period}s": 1}), end)
