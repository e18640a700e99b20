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
import collections
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
    objects: Mapping[str, int],
    *,
    latency: float = 0.0,
    rate_limit: int | None = None,
    rate_limit_burst: int | None = None,
) -> Iterator[str]:
    """A fake Stripe in its own process (so its memory and CPU are not ours), serving
    ``objects``: how many of each list path (``{"customers": 20_000}``, ``{"invoices": 2_000}``),
    created times spread over the last two years. ``rate_limit_burst``: count the limit with a
    token bucket of that many tokens (None: a sliding one-second window)."""
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
    if rate_limit_burst:
        command += ["--rate-limit-burst", str(rate_limit_burst)]
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
    from airflow_provider_stripe.utils.output import resolve_path, write_records

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


# -- 6. a rate limit shared by independent clients (issue 12) --------------------------------------

#: ``BENCH_PACING="INCREASE=0.01,DECREASE=0.7"``: override constants of ``airflow_provider_stripe.api.pacing``
#: inside the export processes of section 6, to try a change without editing the provider.
PACING_ENV = "BENCH_PACING"
#: ``BENCH_LIMITERS="window"``: which ways of counting the server's limit section 6 runs under.
LIMITERS_ENV = "BENCH_LIMITERS"
#: name: (token bucket size or None for a sliding window, how the table says it)
LIMITERS = {
    "bucket": (25, "a token bucket of 25, as Stripe counts"),
    "window": (None, "a sliding one-second window, the strictest count"),
}


def pacing_overrides() -> dict[str, float]:
    """The constants ``BENCH_PACING`` overrides (``{}`` when unset)."""
    overrides = {}
    for item in filter(None, os.environ.get(PACING_ENV, "").replace(" ", "").split(",")):
        name, _, value = item.partition("=")
        overrides[name.upper()] = float(value)
    return overrides


def export_worker(spec: dict[str, object]) -> None:
    """One export process of section 6 (``run.py --worker SPEC``): its own hook and client, no
    coordination with the others. Prints ``ready``, starts on a line on stdin, writes the ids it
    got to ``spec["ids"]`` and prints what it did as JSON: counts, its pacer's slowdowns and
    final rate, every request's send time (monotonic, the same clock in every process) and
    whether it was answered 429, and its overall rate sampled every half second."""
    import threading

    from airflow_provider_stripe.api import pacing

    for name, value in pacing_overrides().items():
        assert hasattr(pacing, name), f"{PACING_ENV}: pacing has no {name}"
        setattr(pacing, name, value)
    from airflow_provider_stripe.hooks.stripe import StripeHook

    extra = spec["extra"]
    assert isinstance(extra, dict)
    connection_env(str(spec["url"]), **extra)
    hook = StripeHook()
    pacer = hook.get_conn().pacer
    sent: list[tuple[float, str | None]] = []  # (when it went, its 429 reason or None)
    release = pacer.release

    def counted(endpoint: str, when: float, *, search: bool = False, limited: str | None = None) -> None:
        sent.append((when, limited))
        release(endpoint, when, search=search, limited=limited)

    pacer.release = counted  # type: ignore[method-assign]
    rates: list[tuple[float, float]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            if pacer.overall is not None:
                rates.append((time.monotonic(), pacer.overall.rate))

    print("ready", flush=True)
    sys.stdin.readline()
    threading.Thread(target=sample, daemon=True).start()
    start = time.monotonic()
    iterator = hook.iter_customers(created=spec["created"], parallelism=int(str(spec["parallelism"])))
    with Path(str(spec["ids"])).open("w", encoding="utf-8") as handle:
        for customer in iterator:
            handle.write(customer["id"] + "\n")
    end = time.monotonic()
    done.set()
    result = {
        "start": start,
        "end": end,
        "records": iterator.records,
        "requests": iterator.requests,
        "retries": iterator.retries,
        "slowdowns": pacer.slowdowns,
        "rate": pacer.overall.rate if pacer.overall is not None else None,
        "sent": sent,
        "rates": rates,
    }
    print(json.dumps(result), flush=True)


def shared_export(url: str, parts: list[dict[str, int]], parallelism: int, extra: dict[str, object]) -> dict:
    """One export split over ``len(parts)`` processes started together: their results and the ids."""
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as files:
        processes = []
        for index, created in enumerate(parts):
            spec = {
                "url": url,
                "created": created,
                "parallelism": parallelism,
                "extra": extra,
                "ids": f"{tmp}/ids-{index}.txt",
            }
            # A warning per 429: to a file, not a pipe nobody reads until the end.
            stderr = files.enter_context(Path(tmp, f"stderr-{index}.txt").open("w"))
            processes.append(
                subprocess.Popen(
                    [sys.executable, __file__, "--worker", json.dumps(spec)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    text=True,
                )
            )
        for process in processes:  # Airflow imported and the client built in every one first
            assert process.stdout is not None
            while (line := process.stdout.readline()) and line.strip() != "ready":
                pass
            assert line, f"an export process ended before it was ready: {process.args}"
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        results = []
        for index, process in enumerate(processes):
            out, _ = process.communicate()
            if process.returncode:
                raise RuntimeError(Path(tmp, f"stderr-{index}.txt").read_text()[-3000:])
            results.append(json.loads(out.strip().splitlines()[-1]))
        ids = [
            line for index in range(len(parts)) for line in Path(f"{tmp}/ids-{index}.txt").read_text().split()
        ]
    start = min(r["start"] for r in results)
    wall = max(r["end"] for r in results) - start
    sent = sorted((when - start, limited) for r in results for when, limited in r["sent"])
    return {
        "wall": wall,
        "ids": len(ids),
        "unique": len(set(ids)),
        "records": sum(r["records"] for r in results),
        "requests": sum(r["requests"] for r in results),
        "retries": sum(r["retries"] for r in results),
        "limited": sum(1 for _, limited in sent if limited is not None),
        "sent": sent,
        "clients": [
            {"slowdowns": r["slowdowns"], "rate": r["rate"], "seconds": r["end"] - r["start"]}
            for r in results
        ],
        "rates": [[(when - start, rate) for when, rate in r["rates"]] for r in results],
        "sent_by": [[(when - start, limited) for when, limited in r["sent"]] for r in results],
    }


def timeline(run: dict, width: int = 10) -> str:
    """Requests and 429s per second, summed over every client, in ``width``-second blocks."""
    seconds = int(run["wall"]) + 1
    requests = [0] * seconds
    limited = [0] * seconds
    for when, reason in run["sent"]:
        second = min(int(when), seconds - 1)
        requests[second] += 1
        limited[second] += reason is not None
    return "; ".join(
        f"{block}–{min(block + width, seconds)} s: {sum(requests[block : block + width]) / width:.1f} req/s, "
        f"{sum(limited[block : block + width])} 429s"
        for block in range(0, seconds, width)
    )


def spread(values: list[float], fmt: str) -> str:
    """``median (min–max)``, formatted."""
    median = statistics.median(values)
    if len(values) == 1:
        return format(median, fmt)
    return f"{format(median, fmt)} ({format(min(values), fmt)}–{format(max(values), fmt)})"


def shared_limit(
    total: int,
    processes: int,
    parallelism: int,
    rate: float | None,
    limit: int,
    latency: float,
    rounds: int,
    burst: int | None = None,
) -> list[tuple[str, str]]:
    """``processes`` independent exports of one account (a split ``created`` range each, started
    together) against one server limit: throughput against the limit's budget, 429s, every
    customer exactly once, and why each client slowed down. ``rate`` None: default pacing;
    ``burst``: the server counts its limit with a token bucket of that many tokens."""
    from airflow_provider_stripe.params import split_created

    extra: dict[str, object] = {} if rate is None else {"max_requests_per_second": rate}
    budget = (rate if rate is not None and processes == 1 else limit) * 100  # customers/s
    runs = []
    with server({"customers": total}, latency=latency, rate_limit=limit, rate_limit_burst=burst) as url:
        now = int(time.time())
        parts = split_created({"gte": now - 731 * 86400, "lt": now + 86400}, processes)
        for _ in range(rounds):
            run = shared_export(url, parts, parallelism, extra)
            assert run["ids"] == run["unique"] == run["records"] == total, (
                f"{run['ids']} ids ({run['unique']} distinct, {run['records']} counted) for {total} customers"
            )
            runs.append(run)
            log_run(run, total, budget)
    share = [r["limited"] / r["requests"] * 100 for r in runs]
    counts = ", ".join(f"{r['limited']} of {r['requests']}" for r in runs)
    rows = [
        (
            "customers/s (median, min–max)",
            f"{spread([total / r['wall'] for r in runs], ',.0f')} of a budget of {budget:,.0f} "
            f"({'the limit' if budget == limit * 100 else 'the pacing'}: {budget / 100:g} req/s × 100)",
        ),
        ("share of the budget", f"**{spread([total / r['wall'] / budget * 100 for r in runs], '.0f')} %**"),
        (
            "requests answered 429",
            f"**{spread(share, '.1f')} %** ({counts}; retries {', '.join(str(r['retries']) for r in runs)})",
        ),
        ("wall time", f"{spread([r['wall'] for r in runs], '.1f')} s"),
        (
            "every customer exactly once",
            f"yes, {total:,} distinct ids in every run (union of the processes' files)",
        ),
    ]
    median_run = sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]
    if median_run["wall"] > 20:
        first, later = count_limited(median_run, 10.0)
        rows.append(
            (
                "where the 429s fell (median run)",
                f"{first} in the first 10 s, {later} in the {median_run['wall'] - 10:.0f} s after",
            )
        )
    for index, client in enumerate(median_run["clients"]):
        slowed = ", ".join(f"{n}× {reason}" for reason, n in client["slowdowns"].items()) or "never"
        final = "pacing off" if client["rate"] is None else f"{client['rate']:.1f} req/s at the end"
        rows.append(
            (f"process {index + 1} (median run)", f"slowed: {slowed}; {final}; {client['seconds']:.1f} s")
        )
    return rows


def count_limited(run: dict, seconds: float) -> tuple[int, int]:
    """429s in the first ``seconds`` of a run, and after."""
    first = sum(1 for when, reason in run["sent"] if reason is not None and when < seconds)
    return first, run["limited"] - first


def log_run(run: dict, total: int, budget: float) -> None:
    """One run's figures and per-second timeline, on stderr (the table goes to stdout)."""
    print(
        f"  {total / run['wall']:,.0f} customers/s ({total / run['wall'] / budget:.0%} of {budget:,.0f}), "
        f"{run['limited']} 429s of {run['requests']} requests ({run['limited'] / run['requests']:.1%}), "
        f"{run['wall']:.1f} s; clients: "
        + "; ".join(f"{c['slowdowns']} → {c['rate']}" for c in run["clients"]),
        file=sys.stderr,
    )
    print(f"    {timeline(run)}", file=sys.stderr)
    if len(run["sent_by"]) > 1:
        for index, sent in enumerate(run["sent_by"]):  # each process: requests sent and its pacing rate
            per_block = collections.Counter(int(when // 10) for when, _ in sent)
            rates = {int(when // 10): rate for when, rate in run["rates"][index]}
            print(
                f"    process {index + 1}: "
                + "; ".join(
                    f"{block * 10}s {per_block[block] / 10:.1f} sent/{rates.get(block, 0):.1f} paced"
                    for block in sorted(per_block)
                ),
                file=sys.stderr,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="also write the Markdown table to this file")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke test")
    parser.add_argument(
        "--only", type=int, action="append", choices=range(1, 7), help="run only this section (repeatable)"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # one export process of section 6
    args = parser.parse_args()
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="stripe-bench-"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    if args.worker:
        export_worker(json.loads(args.worker))
        return
    small, large = (2_000, 20_000) if args.quick else (20_000, 200_000)
    only = set(args.only or range(1, 7))

    sections: list[tuple[str, list[tuple[str, str]]]] = []
    if 1 in only:
        for path in ("customers", "invoices"):
            sections.append(
                (
                    f"1. Throughput to JSONL, {small:,} {path}, no latency, pacing off "
                    f"(median of {args.rounds})",
                    throughput(path, small, args.rounds),
                )
            )
    if 2 in only:
        sections.append(("2. Peak RSS, list operator writing .jsonl.gz", rss_rows("customers", small, large)))
        sections.append(
            (
                '2. Peak RSS, list operator (`resource="invoices"`) writing .jsonl.gz',
                rss_rows("invoices", small, large),
            )
        )
    count = 1_000 if args.quick else 10_000
    if 3 in only:
        for path, latency in (("customers", 0.2), ("customers", 0.4), ("invoices", 0.2)):
            sections.append(
                (
                    f"3. {count:,} {path}, {latency * 1000:.0f} ms per request, "
                    "server limit 25 req/s, pacing 24 req/s",
                    parallel(path, count, latency, 25, 24),
                )
            )
    if 4 in only:
        sections.append(("4. Import cost (median of 7 fresh interpreters)", import_cost()))
    if 5 in only:
        accounts = [10_000] if args.quick else [10_000, 200_000]
        sections.append(
            (
                "5. Change capture: requests to bring a table up to date after a day's changes "
                "(snapshot + changes checked equal to the account)",
                change_capture_cost(accounts, [100, 1_000, 5_000]),
            )
        )
    if 6 in only:
        from airflow_provider_stripe.api import pacing

        for name, value in pacing_overrides().items():  # so the titles say what the processes use
            setattr(pacing, name, value)
        rounds = 1 if args.quick else min(args.rounds, 3)
        overrides = pacing_overrides()
        tried = f"; pacing constants overridden: {PACING_ENV}={os.environ[PACING_ENV]}" if overrides else ""
        shared, single = (20_000, 5_000) if args.quick else (200_000, 50_000)
        for limiter in os.environ.get(LIMITERS_ENV, "bucket,window").split(","):
            burst, how = LIMITERS[limiter]
            print(
                f"6. {shared:,} customers, four processes × parallelism=4, default pacing, {how}:",
                file=sys.stderr,
            )
            sections.append(
                (
                    f"6. One 25 req/s limit ({how}), 200 ms per request: four processes × parallelism=4, "
                    f"default pacing (test key: each starts at {22 * pacing.START_FRACTION:g} req/s, "
                    f"at most 22), a quarter of "
                    f"{shared:,} customers each (median of {rounds}{tried})",
                    shared_limit(shared, 4, 4, None, 25, 0.2, rounds, burst),
                )
            )
        print(f"6. {single:,} customers, one process × parallelism=10, pacing 24 req/s:", file=sys.stderr)
        sections.append(
            (
                f"6. One export of {single:,} customers, parallelism=10, pacing 24 req/s, server limit "
                f"25 req/s, 200 ms per request (median of {rounds}{tried})",
                shared_limit(single, 1, 10, 24, 25, 0.2, rounds),
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
