"""Spread one large export over the workers a deployment already has.

The ``created`` history is split into windows (``split_created``) and the list
operator is mapped over them, each window to its own file, so Celery or
Kubernetes workers fetch them side by side. Stripe's rate budget is per account,
so it is shared explicitly: ``max_active_tis_per_dagrun=4`` caps how many windows
of a run fetch at once and each task paces itself with ``max_requests_per_second``;
keep ``concurrent windows × max_requests_per_second`` under the account's budget
(4 × 5 req/s = 20 req/s, below Stripe's 25 per endpoint). It runs as is, with no
setup beyond the connection.

To share one budget across DAGs and runs (two backfills, the nightly export …),
use a pool instead: create it first, ``airflow pools set stripe_api 4 "Stripe API
budget"`` (or in the UI under Admin → Pools), then add ``pool="stripe_api"`` to
the ``partial(...)`` of every task that calls Stripe. The pool must exist before
the run: the scheduler never queues a task whose pool does not exist, so the run
waits forever with its tasks ``scheduled`` and only the scheduler's log says why.

Trigger it with the params ``start``, ``end`` (ISO 8601) and ``windows``. With no
``end``, the range ends at the run's ``run_after`` (when it was triggered), to the
second.

Rerunning a range replaces its output, whatever the window count. Each run writes
its windows into a folder of its own, ``backfill/<start>_<end>/run=<run_id>-<nonce>/``
(e.g. ``backfill/20240101T000000Z_20240111T000000Z/run=manual__2024-06-02T09_30_00_00_00-5f1c09ab/``):
every character of the run id outside ``[A-Za-z0-9._-]`` becomes ``_``, the id is cut
at 150 characters, and 8 random hex digits, drawn when ``plan`` runs, give every
planning its own folder (a cleared run or a run id used again never writes into the
folder ``CURRENT`` names). Once every window has succeeded and its file is there,
``publish`` writes the folder's name to ``backfill/<start>_<end>/CURRENT`` (beside it,
then renamed over it) and deletes the range's other ``run=`` folders. Read the folder
``CURRENT`` names: while a run is under way or after one failed, it is still the last
complete run's, never a mix of two runs. Runs go one at a time
(``max_active_runs=1``), so none deletes the windows of another still being written.
A run with no ``end`` is a range of its own (it ends at another second).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, ObjectStoragePath, Param, task

from airflow_provider_stripe.operators import StripeListCustomersOperator

with DAG(
    dag_id="stripe_backfill_windows",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["stripe", "example"],
    doc_md=__doc__,
    params={
        "start": Param("2020-01-01T00:00:00Z", type="string", description="first second (inclusive)"),
        "end": Param(
            None, type=["null", "string"], description="last second (exclusive); empty: the run's run_after"
        ),
        "windows": Param(16, type="integer", minimum=1, maximum=1024),
    },
) as dag:

    @task
    def plan(base: str, params: dict | None = None, dag_run=None) -> list[dict]:
        """The ``created`` windows, each with its file in this run's folder of the range."""
        import re
        import secrets

        from airflow_provider_stripe.params import split_created

        assert params is not None and dag_run is not None
        end = params["end"] or int(dag_run.run_after.timestamp())  # floored to the second
        windows = split_created({"gte": params["start"], "lt": end}, params["windows"])
        bounds = (windows[0]["gte"], windows[-1]["lt"])
        range_name = "_".join(f"{pendulum.from_timestamp(t):%Y%m%dT%H%M%SZ}" for t in bounds)
        # Safe in any path and short enough for any file system; the nonce gives every planning
        # (a cleared run, a run id used again) a folder of its own, never one CURRENT names.
        run_id = re.sub(r"[^A-Za-z0-9._-]", "_", dag_run.run_id)[:150]
        run_name = f"run={run_id}-{secrets.token_hex(4)}"
        return [
            {"created": window, "output_path": f"{base}/{range_name}/{run_name}/window-{i:04d}.jsonl.gz"}
            for i, window in enumerate(windows)
        ]

    @task
    def publish(windows: list[dict]) -> str:
        """Once every window is written: name this run's folder CURRENT, delete other runs' folders."""
        written = {ObjectStoragePath(w["output_path"]).name for w in windows}
        run_folder = ObjectStoragePath(windows[0]["output_path"]).parent
        range_folder = run_folder.parent

        def listed(folder: ObjectStoragePath, kind: str) -> set[str]:
            """The names in ``folder`` asked of the store now (a listing cached earlier may predate
            the windows), without the folder's own marker that object stores may list."""
            entries = folder.fs.ls(folder.path, detail=True, refresh=True)
            names = {
                entry["name"].rstrip("/").rsplit("/", 1)[-1] for entry in entries if entry["type"] == kind
            }
            return names - {folder.name}

        present = listed(run_folder, "file")
        if written - present:  # a window marked success by hand, or one a rerun has not written yet
            raise RuntimeError(f"{run_folder} lacks {sorted(written - present)}: CURRENT is left as it was")
        for name in present - written:  # only window files: nothing else here is ours
            if name.startswith(("window-", ".window-")):
                (run_folder / name).unlink()
        # Written beside, then renamed over: a reader sees the old name or the new, never half of one.
        staged = range_folder / f".CURRENT.{run_folder.name[-8:]}.partial"
        staged.write_text(run_folder.name)
        staged.rename(range_folder / "CURRENT")
        for name in listed(range_folder, "directory"):
            if name.startswith("run=") and name != run_folder.name:
                (range_folder / name).rmdir(recursive=True)
        return str(run_folder)

    windows = plan(base="{{ var.value.get('stripe_export_base', 'file:///tmp/stripe-exports') }}/backfill")
    exports = StripeListCustomersOperator.partial(
        task_id="export_window",
        max_active_tis_per_dagrun=4,
        max_requests_per_second=5,
    ).expand_kwargs(windows)  # each window: its created range and its output_path
    exports >> publish(windows)
