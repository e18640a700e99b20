"""`make demo`: run the nightly export example for one interval, then keep a table in sync.

Starts a Stripe-compatible sandbox on 127.0.0.1 seeded with a few thousand
customers (or uses real Stripe test mode when STRIPE_API_KEY holds a test key),
sets up Airflow with SQLite in ./.airflow, runs `airflow dags test
stripe_nightly_export` for yesterday's interval, and prints the output's
location, customer count and a sample.

Then, with the sandbox, it shows change capture (`stripe_customers_sync`): a
first run snapshots every customer into a SQLite table; the sandbox then
creates, updates and deletes customers through the API; a second run merges
those changes, and the table is printed next to the sandbox's own state. Safe
to run twice; stops what it starts.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pendulum

ROOT = Path(__file__).resolve().parent.parent
# Both inside the checkout and git-ignored; overridable so tests can run the demo in a temp dir.
AIRFLOW_HOME = Path(os.environ.get("DEMO_AIRFLOW_HOME", ROOT / ".airflow"))
OUTPUT_BASE = Path(os.environ.get("DEMO_OUTPUT", ROOT / "demo-output"))
SANDBOX_KEY = "sk_test_sandboxdemokey"
CUSTOMERS = 3000
WAREHOUSE = AIRFLOW_HOME / "warehouse.db"


def start_sandbox() -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests" / "stripe_server.py"),
            "--customers",
            str(CUSTOMERS),
            "--key",
            SANDBOX_KEY,
            "--days",
            "30",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    url = server.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        server.terminate()
        raise SystemExit(f"the sandbox did not start (said {url!r})")
    return server, url


def main() -> int:
    key = os.environ.get("STRIPE_API_KEY", "")
    real_stripe = key.startswith(("sk_test_", "rk_test_"))
    if key and not real_stripe:
        print("STRIPE_API_KEY is not a test-mode key (sk_test_/rk_test_): ignoring it, using the sandbox.")
    server = None
    if real_stripe:
        connection = {"conn_type": "stripe", "password": key}
        print("Using real Stripe in test mode (STRIPE_API_KEY).")
    else:
        server, url = start_sandbox()
        connection = {"conn_type": "stripe", "password": SANDBOX_KEY, "host": url}
        print(
            f"Started a Stripe-compatible sandbox at {url} with {CUSTOMERS} customers created over 30 days."
        )
    try:
        status = run(connection)
        if status == 0 and server is not None:
            status = sync(connection)
        elif status == 0:
            print("\nThe change-capture part of the demo runs against the sandbox only (it edits customers).")
        return status
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
            print("Stopped the sandbox.")


def airflow_env(connection: dict[str, object]) -> dict[str, str]:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
        "AIRFLOW_CONN_STRIPE_DEFAULT": json.dumps(connection),
        "AIRFLOW_VAR_STRIPE_EXPORT_BASE": f"file://{OUTPUT_BASE}",
        "AIRFLOW_CONN_STRIPE_WAREHOUSE": json.dumps({"conn_type": "sqlite", "host": str(WAREHOUSE)}),
    }
    env.pop("STRIPE_API_KEY", None)
    return env


def run(connection: dict[str, object]) -> int:
    shutil.rmtree(AIRFLOW_HOME, ignore_errors=True)  # a fresh metadata DB each time: safe to run twice
    AIRFLOW_HOME.mkdir()
    env = airflow_env(connection)
    log_file = AIRFLOW_HOME / "demo.log"
    end = pendulum.today("UTC")
    start = end.subtract(days=1)
    print(f"Setting up Airflow (SQLite) in {AIRFLOW_HOME} ...")
    with log_file.open("w") as log:
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
        )
    print(f"Running stripe_nightly_export for [{start}, {end}) ... (log: {log_file})")
    if not dags_test(env, "stripe_nightly_export", end.isoformat()):
        return 1
    output = OUTPUT_BASE / "customers" / f"date={start.to_date_string()}" / "customers.jsonl.gz"
    with gzip.open(output, "rt", encoding="utf-8") as lines:
        customers = [json.loads(line) for line in lines]
    print(f"\nOutput: {output}")
    print(f"Customers created in [{start}, {end}): {len(customers)}")
    print("Sample:")
    for customer in customers[:3]:
        created = pendulum.from_timestamp(customer["created"]).to_iso8601_string()
        print(f"  {customer['id']}  {created}  {customer.get('name')!s:<22}  {customer.get('email')}")
    return 0


def dags_test(env: dict[str, str], dag_id: str, *args: str) -> bool:
    """``airflow dags test`` with its output in the demo log; True when the run succeeded."""
    log_file = AIRFLOW_HOME / "demo.log"
    with log_file.open("a") as log:
        before = log.tell()
        result = subprocess.run(
            [sys.executable, "-m", "airflow", "dags", "test", dag_id, *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    with log_file.open() as log:
        log.seek(before)
        ok = result.returncode == 0 and "state=success" in log.read()
    if not ok:
        print(f"The DAG run failed; see {log_file}")
    return ok


def api(connection: dict[str, Any], method: str, path: str, **data: str) -> dict[str, Any]:
    """One Stripe API call to the sandbox, as any Stripe client would make it."""
    import requests

    answer = requests.request(
        method,
        f"{connection['host']}/v1/{path}",
        data=data,
        headers={"Authorization": f"Bearer {connection['password']}"},
        timeout=30,
    )
    answer.raise_for_status()
    result: dict[str, Any] = answer.json()
    return result


def sandbox_customers(connection: dict[str, Any]) -> dict[str, dict[str, Any]]:
    from airflow_provider_stripe.api.client import StripeClient

    client = StripeClient(str(connection["password"]), base_url=str(connection["host"]))
    return {c["id"]: c for c in client.iterate("customers", {})}


def table(path: Path) -> dict[str, dict[str, Any]]:
    with closing(sqlite3.connect(path)) as db:
        return {row[0]: json.loads(row[1]) for row in db.execute("SELECT id, data FROM customers")}


def sync(connection: dict[str, Any]) -> int:
    env = airflow_env(connection)
    print("\nChange capture: stripe_customers_sync keeps a SQLite table equal to Stripe.")
    print(f"Run 1: no table yet, so a full snapshot into {WAREHOUSE} ...")
    if not dags_test(env, "stripe_customers_sync"):
        return 1
    print(f"  the table holds {len(table(WAREHOUSE))} customers.")
    time.sleep(1.1)  # the next window starts at the snapshot's second: change things after it
    existing = sorted(table(WAREHOUSE))
    touched: list[tuple[str, str]] = []
    for i, customer_id in enumerate(existing[:4]):
        api(connection, "POST", f"customers/{customer_id}", email=f"moved-{i}@example.com")
        touched.append((customer_id, "email changed"))
    api(connection, "POST", f"customers/{existing[0]}", **{"metadata[plan]": "gold"})
    touched[0] = (existing[0], "email changed, then metadata (two updates)")
    for customer_id in existing[4:6]:
        api(connection, "DELETE", f"customers/{customer_id}")
        touched.append((customer_id, "deleted"))
    for i in range(3):
        created = api(connection, "POST", "customers", email=f"new-{i}@example.com", name=f"New Customer {i}")
        touched.append((created["id"], "created"))
    api(connection, "DELETE", f"customers/{created['id']}")
    touched[-1] = (created["id"], "created, then deleted")
    print(f"The sandbox changed {len(touched)} customers through the API (creates, updates, deletes).")
    time.sleep(1.1)  # the window ends a second before now
    print("Run 2: merge the changes since the snapshot ...")
    if not dags_test(env, "stripe_customers_sync", "-c", json.dumps({"settle_seconds": 0})):
        return 1
    synced, truth = table(WAREHOUSE), sandbox_customers(connection)
    print(f"\n{'customer':<22} {'what happened':<44} {'table email':<24} sandbox email")
    for customer_id, what in touched:
        mine = synced.get(customer_id, {}).get("email", "(no row)")
        theirs = truth.get(customer_id, {}).get("email", "(deleted)")
        print(f"{customer_id:<22} {what:<44} {mine!s:<24} {theirs}")
    equal = synced == truth
    print(f"\nTable: {len(synced)} rows; sandbox: {len(truth)} customers; equal: {'yes' if equal else 'NO'}")
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
