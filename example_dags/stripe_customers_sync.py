"""Keep a customers table equal to Stripe: one full export, then every run's changes merged in.

A table in a SQL database (here SQLite, through Airflow's SQL tooling: the
``stripe_warehouse`` connection, e.g. ``AIRFLOW_CONN_STRIPE_WAREHOUSE=
'{"conn_type": "sqlite", "host": "/data/stripe.db"}'``) holds one row per live
customer. ``stripe_sync_state`` remembers up to which second the table is
current (``synced_until``). Each run:

1. **plan** reads ``synced_until``. On the first run (or if it is older than
   Stripe's 30 days of events) the run takes a **snapshot**: a full parallel
   export replaces the table, and ``synced_until`` becomes the second the export
   started. Otherwise it reads the **changes** from ``synced_until`` to
   ``settle_seconds`` (a run parameter, default 60) ago: events of the last
   moments are left to the next run rather than risked.
2. **merge** upserts every changed customer and deletes every deleted one, and
   moves ``synced_until`` to the window's end, in one transaction: a failed run
   leaves the table as it was, and its retry reads the same changes again. It
   moves ``synced_until`` only from the value the window started at, so a run
   that lost a race with another (a backfill, a cleared old run) fails instead
   of writing older states over newer ones.

The window starts where the last run stopped, not at the data interval: a
missed, cleared or manually triggered run never leaves a gap, and reading a
change twice is harmless (the latest state wins). The schedule only says how
often the table catches up. Files go to ``{stripe_export_base}/sync/``; the
default base is ``file:///tmp/stripe-exports``.
"""

from __future__ import annotations

import json
from typing import Any

import pendulum
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import DAG, ObjectStoragePath, Param, task

from airflow_provider_stripe.operators import StripeCustomerChangesOperator, StripeListCustomersOperator

WAREHOUSE = "stripe_warehouse"
#: Stripe keeps events 30 days; a table last synced earlier than this is snapshotted again.
MAX_LAG = pendulum.duration(days=29)
FILES = "{{ var.value.get('stripe_export_base', 'file:///tmp/stripe-exports') }}/sync/{{ run_id | replace(':', '-') | replace('+', '_') }}"  # noqa: E501

CREATE_TABLES = """
CREATE TABLE IF NOT EXISTS customers (
    id TEXT PRIMARY KEY,
    email TEXT,
    name TEXT,
    created INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS stripe_sync_state (
    resource TEXT PRIMARY KEY,
    synced_until INTEGER NOT NULL
);
"""
UPSERT = """
INSERT INTO customers (id, email, name, created, data) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    email = excluded.email, name = excluded.name, created = excluded.created, data = excluded.data
"""
#: Compare-and-set: only the run whose window starts where the table stands may move it.
MOVE_SYNCED = """
UPDATE stripe_sync_state SET synced_until = ? WHERE resource = 'customers' AND synced_until = ?
"""
SET_SYNCED = """
INSERT INTO stripe_sync_state (resource, synced_until) VALUES ('customers', ?)
ON CONFLICT (resource) DO UPDATE SET synced_until = excluded.synced_until
"""


def _row(customer: dict[str, Any]) -> tuple[Any, ...]:
    data = {key: value for key, value in customer.items() if key != "_stripe_event"}
    return (
        data["id"],
        data.get("email"),
        data.get("name"),
        data["created"],
        json.dumps(data, sort_keys=True),
    )


def _records(path: str) -> Any:
    with ObjectStoragePath(path).open("rb") as lines:
        for line in lines:
            yield json.loads(line)


with DAG(
    dag_id="stripe_customers_sync",
    schedule="@hourly",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # one writer of the table at a time
    tags=["stripe", "example"],
    doc_md=__doc__,
    params={"settle_seconds": Param(60, type="integer", minimum=0)},
) as dag:
    create_tables = SQLExecuteQueryOperator(
        task_id="create_tables", conn_id=WAREHOUSE, sql=CREATE_TABLES, split_statements=True
    )

    @task.branch
    def plan(ti: Any = None) -> str:
        """Snapshot on the first run (or after a month away), else read changes from synced_until on."""
        from airflow.providers.sqlite.hooks.sqlite import SqliteHook

        row = SqliteHook(sqlite_conn_id=WAREHOUSE).get_first(
            "SELECT synced_until FROM stripe_sync_state WHERE resource = 'customers'"
        )
        now = pendulum.now("UTC")
        if row is None or pendulum.from_timestamp(row[0]) < now - MAX_LAG:
            ti.xcom_push(key="snapshot_started", value=now.int_timestamp)
            return "snapshot"
        ti.xcom_push(key="synced_until", value=row[0])
        return "changes"

    snapshot = StripeListCustomersOperator(
        task_id="snapshot", parallelism=4, output_path=f"{FILES}/snapshot.jsonl", retries=2
    )
    changes = StripeCustomerChangesOperator(
        task_id="changes",
        created={"gte": "{{ ti.xcom_pull(task_ids='plan', key='synced_until') }}"},
        settle_seconds="{{ params.settle_seconds }}",
        output_path=f"{FILES}/changes.jsonl",
        retries=2,
    )

    @task
    def load_snapshot(result: dict[str, Any], ti: Any = None) -> int:
        """Replace the table with the snapshot; the table is current as of the export's start."""
        from airflow.providers.sqlite.hooks.sqlite import SqliteHook

        started = ti.xcom_pull(task_ids="plan", key="snapshot_started")
        connection = SqliteHook(sqlite_conn_id=WAREHOUSE).get_conn()
        try:
            with connection:  # one transaction
                row = connection.execute(
                    "SELECT synced_until FROM stripe_sync_state WHERE resource = 'customers'"
                ).fetchone()
                if row is not None and row[0] >= started:
                    raise RuntimeError(
                        f"Another run synced the table up to {row[0]} meanwhile; not replacing it"
                    )
                connection.execute("DELETE FROM customers")
                connection.executemany(UPSERT, (_row(c) for c in _records(result["path"])))
                connection.execute(SET_SYNCED, (started,))
            (count,) = connection.execute("SELECT count(*) FROM customers").fetchone()
        finally:
            connection.close()
        print(f"Snapshot: {count} customers, current as of {pendulum.from_timestamp(started)}")
        return int(count)

    @task
    def merge(result: dict[str, Any]) -> dict[str, int]:
        """Upsert the changed customers, delete the deleted ones, and move synced_until: all or nothing."""
        from airflow.providers.sqlite.hooks.sqlite import SqliteHook

        connection = SqliteHook(sqlite_conn_id=WAREHOUSE).get_conn()
        upserts = deletes = 0
        window = result["window"]
        try:
            with connection:  # one transaction
                moved = connection.execute(MOVE_SYNCED, (window["lt"], window["gte"])).rowcount
                (now_at,) = connection.execute(
                    "SELECT synced_until FROM stripe_sync_state WHERE resource = 'customers'"
                ).fetchone()
                if not moved and now_at != window["lt"]:  # raising rolls the transaction back
                    raise RuntimeError(
                        f"synced_until is {now_at}, no longer {window['gte']}: another run merged "
                        "meanwhile; this run's changes may be older, so they are not applied"
                    )
                for record in _records(result["path"]) if moved else ():  # else: a retry, merged already
                    if record.get("deleted"):
                        connection.execute("DELETE FROM customers WHERE id = ?", (record["id"],))
                        deletes += 1
                    else:
                        connection.execute(UPSERT, _row(record))
                        upserts += 1
            (count,) = connection.execute("SELECT count(*) FROM customers").fetchone()
        finally:
            connection.close()
        until = pendulum.from_timestamp(result["window"]["lt"])
        print(f"Merged {upserts} upserts and {deletes} deletes; {count} customers, current as of {until}")
        return {"upserts": upserts, "deletes": deletes, "customers": int(count)}

    chosen = plan()
    create_tables >> chosen >> [snapshot, changes]
    load_snapshot(snapshot.output)
    merge(changes.output)
