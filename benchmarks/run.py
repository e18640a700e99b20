"""Benchmarks: throughput, memory, parallel speed-up, import cost and change-capture cost.

Usage: ``make bench`` (or ``python benchmarks/run.py [--output BENCHMARKS.md]`` in a
venv with stripe-python installed). Every server is a local Stripe-compatible
process on 127.0.0.1 (``tests/stripe_server.py``) with configurable objects to serve
(customers, and any other list path such as invoices), per-request latency and rate
limit. Throughput, memory and parallel speed-up are measured for customers and for
invoices (a non-customer object, with an embedded ``lines`` list). Figures are ratios
against a baseline measured in the same run, because absolute times on a shared
machine are noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk_test_benchmarkkey"


@contextlib.contextmanager
def server(
    objects: Mapping[str, int], *, latency: float = 0.0, rate_limit: int | None = None
) -> Iterator[str]:
    """A fake Stripe in its own process (so its memory and CPU are not ours), serving
    ``objects``: how many of each list path (``{"customers": 20_000}``, ``{"invoices": 2_000}``),
    created times spread over the last two years."""
    command = [
        sys.executable,
        str(ROOT / "tests" / "stripe_server.py"),
        "--customers",
        str(objects.get("customers", 0)),
        "--key",
        KEY,
        "--latency",
        str(latency),
        "--days",
        "730",
    ]
    for path, count in objects.items():
        if path != "customers":
            command += ["--objects", f"{path}={count}"]
    if rate_limit:
        command += ["--rate-limit", str(rate_limit)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def connection_env(url: str, **extra: object) -> None:
    os.environ["AIRFLOW_CONN_STRIPE_DEFAULT"] = json.dumps(
        {"conn_type": "stripe", "password": KEY, "host": url, "extra": extra}
    )


# -- 1. throughput to JSONL -------------------------------------------------------------------


def ours(url: str, out: Path, path: str) -> int:
    """The provider's hook (``iter_objects``, embedded lists completed) into ``write_records``."""
    from airflow_provider_stripe.hooks.stripe import StripeHook
    from airflow_provider_stripe.output import resolve_path, write_records

    connection_env(url, max_requests_per_second=0)
    return write_records(resolve_path(str(out)), StripeHook().iter_objects(path), output_format="jsonl")


def bare_loop(url: str, out: Path, path: str) -> int:
    """The least a client can do: ``requests`` + ``json``, cursor by cursor (no retries, no checks)."""
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {KEY}"
    params: dict[str, str | int] = {"limit": 100}
    count = 0
    with out.open("w", encoding="utf-8") as handle:
        while True:
            page = session.get(f"{url}/v1/{path}", params=params, timeout=80).json()
            for record in page["data"]:
                handle.write(json.dumps(record) + "\n")
                count += 1
            if not page["has_more"]:
                return count
            params["starting_after"] = page["data"][-1]["id"]


def stripe_python(url: str, out: Path, path: str) -> int:
    """stripe-python's ``auto_paging_iter`` on its service for ``path`` (``client.v1.invoices`` …)."""
    import stripe

    # Its two log lines per request would otherwise go through Airflow's log handlers.
    logging.getLogger("stripe").setLevel(logging.WARNING)
    client = stripe.StripeClient(KEY, base_addresses={"api": url})
    service = getattr(client.v1, path)
    count = 0
    with out.open("w", encoding="utf-8") as handle:
        for record in service.list({"limit": 100}).auto_paging_iter():
            # default=str: stripe-python turns *_decimal fields (an invoice line's price) into Decimal.
            handle.write(json.dumps(record.to_dict(), default=str) + "\n")
            count += 1
    return count


def throughput(path: str, total: int, rounds: int) -> list[tuple[str, str]]:
    """Records of ``path`` per second to JSONL, each client against the same server, rounds interleaved."""
    runners: dict[str, Callable[[str, Path], int]] = {
        "bare requests+json loop": partial(bare_loop, path=path),
        "airflow-provider-stripe hook": partial(ours, path=path),
        "stripe-python auto_paging_iter": partial(stripe_python, path=path),
    }
    times: dict[str, list[float]] = {name: [] for name in runners}
    with server({path: total}) as url, tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):  # interleaved, so drift on a noisy machine hits all alike
            for name, run in runners.items():
                start = time.perf_counter()
                count = run(url, Path(tmp) / "out.jsonl")
                times[name].append(time.perf_counter() - start)
                assert count == total, (name, count)
    base = statistics.median(times["bare requests+json loop"])
    rows = []
    for name, samples in times.items():
        median = statistics.median(samples)
        rows.append((name, f"{total / median:,.0f} {path}/s; {base / median:.2f}× the bare loop"))
    ours_median = statistics.median(times["airflow-provider-stripe hook"])
    sdk_median = statistics.median(times["stripe-python auto_paging_iter"])
    rows.append(("hook vs stripe-python", f"{sdk_median / ours_median:.1f}× faster"))
    return rows


# -- 2. peak memory of the list operator --------------------------------------------------------

# Customers through their own operator (as before), any other list path through the generic one.
RSS_PROBE = """
import json, os, resource, sys
from airflow_provider_stripe.operators import StripeListCustomersOperator, StripeListOperator
out, path = sys.argv[1], sys.argv[2]
if path == "customers":
    op = StripeListCustomersOperator(task_id="bench", output_path=out, max_requests_per_second=0)
else:
    op = StripeListOperator(task_id="bench", resource=path, output_path=out, max_requests_per_second=0)
result = op.execute({})
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"records": result["records"], "maxrss_kb": peak_kb}))
"""


def peak_rss(path: str, total: int) -> tuple[int, float]:
    """Peak RSS (MB) of a fresh interpreter running the list operator over ``total`` objects of ``path``."""
    with server({path: total}) as url, tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "AIRFLOW_CONN_STRIPE_DEFAULT": json.dumps({"conn_type": "stripe", "password": KEY, "host": url}),
        }
        result = subprocess.run(
            [sys.executable, "-c", RSS_PROBE, f"{tmp}/{path.replace('/', '_')}.jsonl.gz", path],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        probe = json.loads(result.stdout.strip().splitlines()[-1])
        assert probe["records"] == total, (path, probe["records"])
        return total, probe["maxrss_kb"] / 1024


def rss_rows(path: str, small: int, large: int) -> list[tuple[str, str]]:
    rss = [peak_rss(path, n) for n in (small, large)]
    return [
        *[(f"{n:,} {path}", f"{mb:.1f} MB") for n, mb in rss],
        (f"{large:,} − {small:,}", f"{rss[1][1] - rss[0][1]:+.1f} MB"),
    ]


# -- 3. parallel at Stripe's rate limit ----------------------------------------------------------


def parallel(path: str, total: int, latency: float, limit: int, rate: float) -> list[tuple[str, str]]:
    """``iter_objects(path)`` with 1 and 10 workers against a slow, rate-limited server.

    The server injects no faults, so every retry is a 429: they are retried (as in a task)
    and counted in the row, so a 429 shows up in the table instead of ending the benchmark."""
    from airflow_provider_stripe.hooks.stripe import StripeHook

    rows = []
    results = {}
    with server({path: total}, latency=latency, rate_limit=limit) as url:
        connection_env(url, max_requests_per_second=rate)
        for parallelism in (1, 10):
            hook = StripeHook()
            start = time.perf_counter()
            iterator = hook.iter_objects(path, parallelism=parallelism)
            count = sum(1 for _ in iterator)
            elapsed = time.perf_counter() - start
            assert count == total, (path, parallelism, count)
            results[parallelism] = total / elapsed
            rows.append(
                (
                    f"parallelism={parallelism}",
                    f"{total / elapsed:,.0f} {path}/s ({iterator.requests} requests, "
                    f"{iterator.requests / elapsed:.1f} req/s, {iterator.retries} retries/429s)",
                )
            )
    rows.append(("speed-up", f"{results[10] / results[1]:.1f}× sequential"))
    return rows


# -- 5. change capture: what a day's changes cost against a full re-export --------------------------


def change_capture_cost(accounts: list[int], changes: list[int]) -> list[tuple[str, str]]:
    """Requests to bring a table up to date after C changes on an account of N customers.

    Counts requests (Stripe's read allocation is counted in requests) and checks that
    snapshot + changes equals the account. The server runs in this process: requests,
    not time, are measured here. Time at a pace of 24 req/s is requests / 24.
    """
    import random

    sys.path.insert(0, str(ROOT))
    from airflow_provider_stripe.hooks.stripe import StripeHook
    from tests.stripe_server import FakeStripe

    rows = []
    for size in accounts:
        fake = FakeStripe(api_keys=[KEY]).start()
        fake.log_requests = False
        try:
            connection_env(fake.url, max_requests_per_second=0)
            now = int(time.time())
            fake.seed(size, start=now - 400 * 86400, spacing=max(1, 300 * 86400 // size))
            table = {c["id"]: c for c in StripeHook().iter_customers(parallelism=4)}
            day = now - 86400
            rng = random.Random(size)
            done = 0
            slot = (now - 5 - day) // len(changes)
            for batch, count in enumerate(changes):
                # Each batch happens after the one before, as time does: events stay in order.
                ids = list(fake.store().index)
                begin = day + batch * slot
                for at in sorted(rng.randrange(begin, begin + slot) for _ in range(count - done)):
                    roll = rng.random()
                    if roll < 0.1:
                        fake.create_customer(at=at)
                    elif (victim := rng.choice(ids)) not in fake.store().index:
                        continue  # deleted earlier
                    elif roll < 0.95:
                        fake.update_customer(victim, at=at, name=f"n{rng.random():.6f}")
                    else:
                        fake.delete_customer(victim, at=at)
                done = count
                hook = StripeHook()
                full = hook.iter_customers()
                exported = sum(1 for _ in full)
                full_requests = full.requests
                costs = {}
                for refetch in (False, True):
                    synced = dict(table)
                    with hook.iter_changes(
                        "customers",
                        created={"gte": day},
                        refetch=refetch,
                        parallelism=4 if refetch else 1,
                        settle_seconds=0,  # every change here is at least 5 s old
                    ) as records:
                        for record in records:
                            record.pop("_stripe_event")
                            if record.get("deleted"):
                                synced.pop(record["id"], None)
                            else:
                                synced[record["id"]] = record
                    assert synced == fake.customers_now(), "snapshot + changes differs from the account"
                    costs[refetch] = (records.requests, records.changed)
                events, changed = costs[False][0], costs[False][1]
                refetched = costs[True][0]
                rows.append(
                    (
                        f"N={size:,}, {count:,} changes ({changed:,} customers)",
                        f"changes: **{events:,} requests** ({full_requests / events:.0f}× fewer than a "
                        f"re-export); with refetch: {refetched:,} ({refetched / full_requests:.2g}× a "
                        f"re-export); full re-export: {full_requests:,} ({exported:,} customers)",
                    )
                )
        finally:
            fake.stop()
    return rows


# -- 4. import cost -------------------------------------------------------------------------------

IMPORT_PROBE = """
import time
t0 = time.perf_counter()
import airflow.sdk
from airflow.sdk import BaseOperator
t1 = time.perf_counter()
{extra}
t2 = time.perf_counter()
print(t2 - t1, t1 - t0)
"""


def import_cost(rounds: int = 7) -> list[tuple[str, str]]:
    added = []
    base = []
    for _ in range(rounds):
        with_ops = subprocess.run(
            [sys.executable, "-c", IMPORT_PROBE.format(extra="import airflow_provider_stripe.operators")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        added.append(float(with_ops[0]))
        base.append(float(with_ops[1]))
    return [
        ("import airflow.sdk", f"{statistics.median(base) * 1000:.0f} ms"),
        ("+ import airflow_provider_stripe.operators", f"+{statistics.median(added) * 1000:.1f} ms"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="also write the Markdown table to this file")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke test")
    args = parser.parse_args()
    small, large = (2_000, 20_000) if args.quick else (20_000, 200_000)
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="stripe-bench-"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

    sections: list[tuple[str, list[tuple[str, str]]]] = []
    for path in ("customers", "invoices"):
        sections.append(
            (
                f"1. Throughput to JSONL, {small:,} {path}, no latency, pacing off (median of {args.rounds})",
                throughput(path, small, args.rounds),
            )
        )
    sections.append(("2. Peak RSS, list operator writing .jsonl.gz", rss_rows("customers", small, large)))
    sections.append(
        (
            '2. Peak RSS, list operator (`resource="invoices"`) writing .jsonl.gz',
            rss_rows("invoices", small, large),
        )
    )
    count = 1_000 if args.quick else 10_000
    for path, latency in (("customers", 0.2), ("customers", 0.4), ("invoices", 0.2)):
        sections.append(
            (
                f"3. {count:,} {path}, {latency * 1000:.0f} ms per request, "
                "server limit 25 req/s, pacing 24 req/s",
                parallel(path, count, latency, 25, 24),
            )
        )
    sections.append(("4. Import cost (median of 7 fresh interpreters)", import_cost()))
    accounts = [10_000] if args.quick else [10_000, 200_000]
    sections.append(
        (
            "5. Change capture: requests to bring a table up to date after a day's changes "
            "(snapshot + changes checked equal to the account)",
            change_capture_cost(accounts, [100, 1_000, 5_000]),
        )
    )

    lines = [
        f"Command: `make bench` · {time.strftime('%Y-%m-%d')} · Python {platform.python_version()} · "
        f"{platform.machine()}, {os.cpu_count()} cores · {platform.platform()}",
        "",
    ]
    for title, rows in sections:
        lines += [f"### {title}", "", "| | |", "|---|---|", *[f"| {a} | {b} |" for a, b in rows], ""]
    text = "\n".join(lines)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")


if __name__ == "__main__":
    main()
