"""`make demo`: run the nightly export example for one interval and show what it wrote.

Starts a Stripe-compatible sandbox on 127.0.0.1 seeded with a few thousand
customers (or uses real Stripe test mode when STRIPE_API_KEY holds a test key),
sets up Airflow with SQLite in ./.airflow, runs `airflow dags test
stripe_nightly_export` for yesterday's interval, and prints the output's
location, customer count and a sample. Safe to run twice; stops what it starts.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pendulum

ROOT = Path(__file__).resolve().parent.parent
# Both inside the checkout and git-ignored; overridable so tests can run the demo in a temp dir.
AIRFLOW_HOME = Path(os.environ.get("DEMO_AIRFLOW_HOME", ROOT / ".airflow"))
OUTPUT_BASE = Path(os.environ.get("DEMO_OUTPUT", ROOT / "demo-output"))
SANDBOX_KEY = "sk_test_sandboxdemokey"
CUSTOMERS = 3000


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
        return run(connection)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
            print("Stopped the sandbox.")


def run(connection: dict[str, object]) -> int:
    shutil.rmtree(AIRFLOW_HOME, ignore_errors=True)  # a fresh metadata DB each time: safe to run twice
    AIRFLOW_HOME.mkdir()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
        "AIRFLOW_CONN_STRIPE_DEFAULT": json.dumps(connection),
        "AIRFLOW_VAR_STRIPE_EXPORT_BASE": f"file://{OUTPUT_BASE}",
    }
    env.pop("STRIPE_API_KEY", None)
    log_file = AIRFLOW_HOME / "demo.log"
    airflow = [sys.executable, "-m", "airflow"]
    end = pendulum.today("UTC")
    start = end.subtract(days=1)
    print(f"Setting up Airflow (SQLite) in {AIRFLOW_HOME} ...")
    with log_file.open("w") as log:
        subprocess.run([*airflow, "db", "migrate"], env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
        print(f"Running stripe_nightly_export for [{start}, {end}) ... (log: {log_file})")
        result = subprocess.run(
            [*airflow, "dags", "test", "stripe_nightly_export", end.isoformat()],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0 or "state=success" not in log_file.read_text():
        print(f"The DAG run failed; see {log_file}")
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


if __name__ == "__main__":
    sys.exit(main())
