"""Issue 9: security, data-loss and robustness holes, each proven closed through the public API."""

from __future__ import annotations

import gc
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_stripe.exceptions import (
    AirflowFailException,
    StripeAPIError,
    StripeConfigurationError,
    StripeConnectionError,
    StripeError,
    StripeParameterError,
    StripeRateLimitError,
    StripeResponseError,
)
from airflow_provider_stripe.hooks.stripe import StripeHook
from tests.conftest import conn_json, task_results
from tests.stripe_server import DEFAULT_KEY, FakeStripe, Fault, fake_key

LIVE_KEY = fake_key()


def use_connection(monkeypatch, host: str, key: str = DEFAULT_KEY, **extra: object) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(host, key=key, **extra))


def worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("stripe-list-") and t.is_alive()]


def wait_for_no_workers(seconds: float = 1.0) -> float:
    """Seconds until no parallel worker thread is alive; fails past ``seconds``."""
    start = time.monotonic()
    while worker_threads():
        assert time.monotonic() - start < seconds, f"workers still alive: {worker_threads()}"
        time.sleep(0.01)
    return time.monotonic() - start


# -- 1, 4: the base URL is exactly scheme://host[:port][/path] ---------------------------------


@pytest.mark.parametrize(
    "base_url",
    [
        "http://evil.example\\@127.0.0.1",  # urlsplit sees 127.0.0.1, requests connects to evil.example
        "http://evil.example\\.127.0.0.1",
        "http://127.0.0.1 .evil.example",
        "http://127.0.0.1\t:8080",
        "http://127.0.0.1\n.evil.example",
        "http://127.0.0.1:80x",
        "http://127.0.0.1/v1?x=1",
        "http://127.0.0.1#frag",
        "http://127.0.0.1/#@evil.example",
        "http://lоcalhost",  # Cyrillic o
        "ftp://127.0.0.1",
        "http://",
    ],
)
def test_base_urls_that_parsers_read_differently_are_refused(monkeypatch, base_url):
    use_connection(monkeypatch, base_url, key=LIVE_KEY)
    with pytest.raises(StripeConfigurationError) as info:
        StripeHook().get_conn()
    assert isinstance(info.value, AirflowFailException)
    assert LIVE_KEY[8:] not in str(info.value)
    ok, message = StripeHook().test_connection()
    assert not ok and "base URL" in message


@pytest.mark.parametrize(
    "base_url",
    ["http://stripeuser:{password}@127.0.0.1:{port}", "http://{password}@127.0.0.1:{port}"],
)
def test_credentials_in_the_base_url_are_refused_without_echoing_them(
    stripe_server: FakeStripe, monkeypatch, base_url
):
    password = f"pw{secrets.token_hex(8)}"
    url = base_url.format(password=password, port=stripe_server.server_address[1])
    use_connection(monkeypatch, url)
    hook = StripeHook()
    with pytest.raises(StripeConfigurationError, match="credentials") as info:
        hook.get_conn()
    ok, message = hook.test_connection()
    assert not ok
    for text in (str(info.value), repr(info.value), message, repr(hook)):
        assert password not in text
    assert stripe_server.requests == []


def test_a_live_key_may_use_plain_http_to_loopback_only(stripe_server: FakeStripe, monkeypatch):
    stripe_server.api_keys.add(LIVE_KEY)
    stripe_server.seed(2)
    use_connection(monkeypatch, stripe_server.url, key=LIVE_KEY)
    assert len(StripeHook().list_customers()["data"]) == 2
    use_connection(monkeypatch, "http://api.example.test", key=LIVE_KEY)
    with pytest.raises(StripeConfigurationError, match="plain http"):
        StripeHook().get_conn()


# -- 2: never through a proxy to loopback --------------------------------------------------------


def test_a_loopback_target_never_goes_through_a_proxy(stripe_server: FakeStripe, monkeypatch):
    proxy = FakeStripe().start()  # logs any request sent to it, as a proxy would receive it
    try:
        stripe_server.api_keys.add(LIVE_KEY)
        stripe_server.seed(3)
        for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.setenv(name, proxy.url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        use_connection(monkeypatch, stripe_server.url, key=LIVE_KEY, max_retries=0)
        assert len(StripeHook().list_customers()["data"]) == 3
        assert proxy.requests == []
        assert [r["headers"]["Authorization"] for r in stripe_server.requests] == [f"Bearer {LIVE_KEY}"]
    finally:
        proxy.stop()


# -- 3: keys outside Stripe's alphabet ------------------------------------------------------------


@pytest.mark.parametrize("flaw", ["\n", "\r\nX-Injected: 1", " ", "\t", "é", "\u200b", "\x00", "-", "="])
def test_keys_outside_stripes_alphabet_are_refused_without_showing_them(
    stripe_server: FakeStripe, monkeypatch, flaw
):
    secret = secrets.token_hex(12)
    key = f"sk_test_{secret[:12]}{flaw}{secret[12:]}"
    use_connection(monkeypatch, stripe_server.url, key=key)
    hook = StripeHook()
    with pytest.raises(StripeConfigurationError, match="characters no Stripe key has") as info:
        hook.get_conn()
    ok, message = hook.test_connection()
    assert not ok
    forms = {key, repr(key), repr(key)[1:-1], key.encode("unicode_escape").decode(), secret[:12], secret[12:]}
    for text in (str(info.value), repr(info.value), message):
        for form in forms:
            assert form not in text
    assert stripe_server.requests == []


def test_surrounding_whitespace_of_a_pasted_key_is_ignored(stripe_server: FakeStripe, monkeypatch):
    stripe_server.seed(1)
    use_connection(monkeypatch, stripe_server.url, key=f"  {DEFAULT_KEY}\n")
    assert len(StripeHook().list_customers()["data"]) == 1


# -- 5: ids that are dot-segments or carry whitespace ---------------------------------------------


@pytest.mark.parametrize("bad", [".", "..", " cus_1", "cus_1 ", "cus_1\n", "cus\t1", "\x00", "x" * 256])
def test_unsafe_customer_ids_are_refused_before_any_request(stripe_conn: FakeStripe, bad):
    with pytest.raises(StripeParameterError, match="'customer_id'") as info:
        StripeHook().get_customer(bad)
    assert isinstance(info.value, AirflowFailException)
    with pytest.raises(StripeParameterError, match="'starting_after'"):
        StripeHook().list_customers(starting_after=bad)
    assert stripe_conn.requests == []


# -- 8, 9: cut-off bodies and malformed Retry-After are transient ---------------------------------


@pytest.mark.parametrize("cut", ["chunked", "length"])
def test_a_body_cut_off_mid_way_is_retried(stripe_conn: FakeStripe, cut):
    customers = stripe_conn.seed(5)
    stripe_conn.faults.extend([Fault(cut=cut), Fault(cut=cut)])
    assert StripeHook().list_customers()["data"] == customers
    assert len(stripe_conn.requests) == 3


@pytest.mark.parametrize("value", ["soon", "", "nan", "inf", "-inf", "Fri, 99 Foo 2024 99:99:99 GMT"])
def test_a_malformed_retry_after_counts_as_absent(stripe_conn: FakeStripe, value):
    customers = stripe_conn.seed(2)
    stripe_conn.faults.append(Fault(status=429, headers={"Retry-After": value}))
    start = time.monotonic()
    assert StripeHook().list_customers()["data"] == customers
    assert time.monotonic() - start < 5
    assert [r["status"] for r in stripe_conn.requests] == [429, 200]


# -- 10: malformed success bodies -------------------------------------------------------------------


def _longer(body):
    return {**body, "data": body["data"] + body["data"][:1]}


MALFORMED = {
    "a JSON array": (lambda body: [body], "JSON list"),
    "null": (lambda body: None, "JSON NoneType"),
    "a number": (lambda body: 7, "JSON int"),
    "no data": (lambda body: {"object": "list", "has_more": False}, "no data array"),
    "data not a list": (lambda body: {**body, "data": {"id": "cus_1"}}, "no data array"),
    "no has_more": (lambda body: {"object": "list", "data": body["data"]}, "no boolean has_more"),
    "a record without id": (lambda body: {**body, "data": [{"object": "customer"}]}, "record 0"),
    "a record that is a string": (lambda body: {**body, "data": ["cus_1"]}, "record 0"),
    "an empty page with has_more": (lambda body: {**body, "data": [], "has_more": True}, "empty page"),
    "a page longer than the limit": (_longer, "more than the limit of 3"),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_list_pages_raise_a_typed_error(stripe_conn: FakeStripe, name):
    stripe_conn.seed(5)
    transform, expected = MALFORMED[name]
    for call in (
        lambda: StripeHook().list_customers(limit=3),
        lambda: list(StripeHook().iter_customers(page_size=3)),
        lambda: list(StripeHook().iter_customers(max_records=3)),
    ):
        stripe_conn.faults.append(Fault(transform=transform))
        stripe_conn.clear_log()
        with pytest.raises(StripeResponseError, match=expected) as info:
            call()
        assert info.value.http_status == 200
        assert info.value.request_id == stripe_conn.requests[-1]["request_id"]
        assert len(stripe_conn.requests) == 1  # no silent retry loop, no silent end
        assert all(int(dict(r["query"]).get("limit", 1)) >= 1 for r in stripe_conn.requests)


def test_a_malformed_parallel_page_fails_the_listing(stripe_conn: FakeStripe):
    stripe_conn.seed(50)
    stripe_conn.faults.append(Fault(transform=lambda body: {**body, "data": [{"id": "cus_x"}]}))
    with pytest.raises(StripeResponseError, match="no integer created"):
        list(StripeHook().iter_customers(parallelism=3, page_size=10))
    wait_for_no_workers()


@pytest.mark.parametrize("body", [[], None, {"object": "customer"}, {"id": 7}])
def test_a_malformed_object_raises_a_typed_error(stripe_conn: FakeStripe, body):
    customer = stripe_conn.seed(1)[0]
    stripe_conn.faults.append(Fault(transform=lambda _: body))
    with pytest.raises(StripeResponseError) as info:
        StripeHook().get_customer(customer["id"])
    assert info.value.request_id == stripe_conn.requests[-1]["request_id"]


def test_a_page_cannot_drive_the_limit_below_one(stripe_conn: FakeStripe):
    stripe_conn.seed(10)
    stripe_conn.faults.append(Fault(transform=lambda body: {**body, "data": body["data"] * 3}))
    with pytest.raises(StripeResponseError):
        list(StripeHook().iter_customers(page_size=2, max_records=3))
    assert [dict(r["query"])["limit"] for r in stripe_conn.requests] == ["2"]


# -- 11: timeout bounds the whole request ---------------------------------------------------------


def test_timeout_bounds_a_trickling_answer(stripe_server: FakeStripe, monkeypatch):
    stripe_server.seed(3)
    use_connection(monkeypatch, stripe_server.url, timeout=1.5, max_retries=1, max_requests_per_second=0)
    monkeypatch.setattr("airflow_provider_stripe.api.retries.INITIAL_BACKOFF", 0.01)
    stripe_server.faults.extend([Fault(trickle=0.2), Fault(trickle=0.2)])
    start = time.monotonic()
    with pytest.raises(StripeConnectionError, match=r"within the timeout of 1\.5s") as info:
        StripeHook().list_customers()
    elapsed = time.monotonic() - start
    # (max_retries + 1) x timeout plus the backoff, not the 30 s the trickle would take.
    assert 3.0 <= elapsed < 5.0, elapsed
    assert info.value.should_retry


def test_timeout_still_allows_slow_but_whole_answers(stripe_server: FakeStripe, monkeypatch):
    customers = stripe_server.seed(2)
    use_connection(monkeypatch, stripe_server.url, timeout=2, max_retries=0, max_requests_per_second=0)
    stripe_server.faults.append(Fault(delay=1.0))
    assert StripeHook().list_customers()["data"] == customers


# -- 12: stopping a parallel iteration early stops its workers ----------------------------------


@pytest.fixture
def slow_big_account(stripe_conn: FakeStripe) -> FakeStripe:
    stripe_conn.seed(3000, spacing=5)
    stripe_conn.latency = 0.05
    return stripe_conn


def settled_count(server: FakeStripe, quiet: float = 0.1, seconds: float = 5.0) -> int:
    """The requests the server has seen once none is in flight and the count stopped growing: a
    request sent just before the client stopped can reach a busy in-process server late."""
    start = time.monotonic()
    count = -1
    while count != len(server.requests) or server.in_flight:
        assert time.monotonic() - start < seconds, "the server never settled"
        count = len(server.requests)
        time.sleep(quiet)
    return count


def _take(iterator, count: int) -> list:
    return [next(iterator) for _ in range(count)]


def test_close_stops_parallel_workers(slow_big_account: FakeStripe):
    iterator = StripeHook().iter_customers(parallelism=4, page_size=20)
    _take(iterator, 30)
    assert worker_threads()
    iterator.close()
    wait_for_no_workers()
    sent = settled_count(slow_big_account)
    time.sleep(0.3)
    assert len(slow_big_account.requests) == sent
    with pytest.raises(StopIteration):
        next(iterator)


def test_leaving_a_with_block_stops_parallel_workers(slow_big_account: FakeStripe):
    with StripeHook().iter_customers(parallelism=4, page_size=20) as iterator:
        for _ in iterator:
            break
    wait_for_no_workers()


def test_an_exception_in_the_consumer_stops_parallel_workers(slow_big_account: FakeStripe):
    def consume() -> None:
        with StripeHook().iter_customers(parallelism=4, page_size=20) as iterator:
            for _ in iterator:
                raise RuntimeError("the consumer failed")

    with pytest.raises(RuntimeError):
        consume()
    wait_for_no_workers()


def test_a_dropped_iterator_is_collected_and_stops_its_workers(slow_big_account: FakeStripe):
    iterator = StripeHook().iter_customers(parallelism=4, page_size=20)
    for _ in iterator:
        break
    del iterator
    gc.collect()
    wait_for_no_workers()


def test_close_interrupts_workers_sleeping_on_retry_after(stripe_conn: FakeStripe, monkeypatch):
    stripe_conn.seed(500, spacing=5)
    use_connection(monkeypatch, stripe_conn.url, max_requests_per_second=0, max_retry_wait=100)
    iterator = StripeHook().iter_customers(parallelism=3, page_size=10)
    _take(iterator, 10)
    stripe_conn.fault_rate, stripe_conn.random_faults = (
        1.0,
        [Fault(status=429, headers={"Retry-After": "60"})],
    )
    time.sleep(0.3)  # the workers are now asleep for a minute
    iterator.close()
    wait_for_no_workers()


def test_close_abandons_a_request_in_flight(stripe_conn: FakeStripe):
    stripe_conn.seed(500, spacing=5)
    iterator = StripeHook().iter_customers(parallelism=3, page_size=10)
    _take(iterator, 10)
    stripe_conn.latency = 20.0
    time.sleep(0.3)  # every worker now waits on a 20 s answer
    iterator.close()
    wait_for_no_workers()


# -- 14: errors no retry can fix fail the task at once ---------------------------------------------


@pytest.mark.parametrize(
    ("status", "fails"),
    [(400, True), (401, True), (402, True), (403, True), (404, True), (405, True), (409, False),
     (429, False), (500, False), (503, False)],
)  # fmt: skip
def test_only_errors_no_retry_can_fix_are_airflow_fail_exceptions(stripe_conn: FakeStripe, status, fails):
    stripe_conn.fault_rate, stripe_conn.random_faults = 1.0, [Fault(status=status)]
    monkey_fast = StripeHook(max_retries=1)
    with pytest.raises(StripeAPIError) as info:
        monkey_fast.list_customers()
    assert info.value.http_status == status
    assert isinstance(info.value, AirflowFailException) is fails
    assert isinstance(info.value, StripeRateLimitError) is (status == 429)


def test_dropped_connections_stay_retryable(monkeypatch):
    use_connection(monkeypatch, "http://127.0.0.1:9", max_retries=0)
    with pytest.raises(StripeConnectionError) as info:
        StripeHook().list_customers()
    assert not isinstance(info.value, AirflowFailException)


@pytest.mark.parametrize(
    "call",
    [
        lambda: StripeHook().list_customers(limit=0),
        lambda: StripeHook().list_customers(created={"gte": "yesterday-ish"}),
        lambda: StripeHook(max_requests_per_second=-1).get_conn(),
        lambda: StripeHook(timeout=0).get_conn(),
    ],
)
def test_bad_parameters_and_configuration_are_airflow_fail_exceptions(stripe_conn: FakeStripe, call):
    with pytest.raises(StripeError) as info:
        call()
    assert isinstance(info.value, AirflowFailException)
    assert stripe_conn.requests == []


HEADER = """
import os
import pendulum
from airflow.sdk import DAG
from airflow_provider_stripe.operators import StripeGetCustomerOperator, StripeListCustomersOperator
OUT = os.environ.get("STRIPE_TEST_OUT", "/nonexistent")
with DAG("DAG_ID", schedule=None, start_date=pendulum.datetime(2024, 1, 1), catchup=False,
         default_args=DEFAULTS) as dag:
"""


def dag_source(body: str, defaults: str = "{}") -> str:
    return HEADER.replace("DEFAULTS", defaults) + "\n".join(
        "    " + line for line in body.strip().splitlines()
    )


@pytest.fixture
def env(stripe_conn: FakeStripe, monkeypatch, tmp_path) -> FakeStripe:
    monkeypatch.setenv("STRIPE_TEST_OUT", str(tmp_path))
    return stripe_conn


def ti_of(dag_run, task_id: str):
    return next(ti for ti in dag_run.get_task_instances() if ti.task_id == task_id)


def test_a_wrong_key_fails_the_task_without_spending_its_retries(env: FakeStripe, run_dag, monkeypatch):
    use_connection(monkeypatch, env.url, key="sk_test_wrongkey", max_requests_per_second=0)
    start = time.monotonic()
    dag_run, _ = run_dag(dag_source('StripeListCustomersOperator(task_id="t", retries=3, retry_delay=60)'))
    ti = ti_of(dag_run, "t")
    assert str(ti.state) == "failed" and ti.try_number == 1
    assert time.monotonic() - start < 60
    assert [r["status"] for r in env.requests] == [401]


def test_fail_on_deleted_fails_the_task_without_retries(env: FakeStripe, run_dag):
    customer = env.seed(1)[0]
    env.store().delete(customer["id"])
    dag_run, _ = run_dag(
        dag_source(
            f'StripeGetCustomerOperator(task_id="g", customer_id="{customer["id"]}", fail_on_deleted=True,'
            " retries=2, retry_delay=60)"
        )
    )
    ti = ti_of(dag_run, "g")
    assert str(ti.state) == "failed" and ti.try_number == 1


# -- 6, 7: output paths ---------------------------------------------------------------------------


def test_an_existing_directory_as_output_path_fails_before_fetching(env: FakeStripe, run_dag, tmp_path):
    env.seed(3)
    customer = env.seed(1)[0]
    target = tmp_path / "exports"
    target.mkdir()
    dag_run, _ = run_dag(
        dag_source(f"""
StripeListCustomersOperator(task_id="l", output_path="{target}")
StripeListCustomersOperator(task_id="l_uri", output_path="file://{target}", output_format="json")
StripeGetCustomerOperator(task_id="g", customer_id="{customer["id"]}", output_path="{target}")
""")
    )
    results = task_results(dag_run)
    assert {key: state for key, (state, _) in results.items()} == {
        "l": "failed",
        "l_uri": "failed",
        "g": "failed",
    }
    assert env.requests == []
    assert list(target.iterdir()) == []


def test_a_killed_writer_leaves_a_partial_that_the_next_write_removes(tmp_path):
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_stripe.utils.output import write_records

    destination = tmp_path / "customers.jsonl"
    unrelated = [
        tmp_path / ".other.jsonl.0123456789abcdef0123456789abcdef.partial",
        tmp_path / "notes.partial",
    ]
    for path in unrelated:
        path.write_text("keep me")
    script = (
        "import time, sys\n"
        "from airflow.sdk import ObjectStoragePath\n"
        "from airflow_provider_stripe.utils.output import write_records\n"
        "def records():\n"
        "    yield from ({'id': f'cus_{i}'} for i in range(1000))\n"
        "    print('written', flush=True); time.sleep(60)\n"
        f"write_records(ObjectStoragePath('file://{destination}'), records(), output_format='jsonl')\n"
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=os.environ
    )
    try:
        assert writer.stdout is not None
        assert "written" in iter(lambda: writer.stdout.readline().strip(), "")  # past any log lines
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
    finally:
        writer.kill()
    stale = [p for p in tmp_path.iterdir() if p.name.startswith(".customers.jsonl.")]
    assert len(stale) == 1 and stale[0].stat().st_size > 0  # SIGKILL leaves it: nothing can run then
    assert not destination.exists()
    assert (
        write_records(ObjectStoragePath(f"file://{destination}"), [{"id": "cus_a"}], output_format="jsonl")
        == 1
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["customers.jsonl", *(p.name for p in unrelated)]
    )
    assert json.loads(destination.read_text()) == {"id": "cus_a"}
    assert all(p.read_text() == "keep me" for p in unrelated)


# -- 13: parallel listing to XCom -------------------------------------------------------------------


def test_parallel_listing_to_xcom_works_under_the_xcom_guard(env: FakeStripe, run_dag):
    customers = env.seed(120, spacing=7)
    dag_run, _ = run_dag(
        dag_source("""
StripeListCustomersOperator(task_id="fits", parallelism=3, page_size=10, max_xcom_records=120)
StripeListCustomersOperator(task_id="too_many", parallelism=3, page_size=10, max_xcom_records=50, retries=2)
StripeListCustomersOperator(task_id="with_limit", parallelism=3, limit=5)
""")
    )
    results = task_results(dag_run)
    state, page = results["fits"]
    assert state == "success" and sorted(c["id"] for c in page["data"]) == sorted(c["id"] for c in customers)
    assert page["has_more"] is False
    assert ti_of(dag_run, "too_many").state == "failed" and ti_of(dag_run, "too_many").try_number == 1
    assert results["with_limit"][0] == "failed"
    wait_for_no_workers()


def test_parallel_with_limit_names_limit(stripe_conn: FakeStripe):
    from airflow_provider_stripe.operators import StripeListCustomersOperator

    operator = StripeListCustomersOperator(task_id="x", parallelism=2, limit=5)
    with pytest.raises(StripeParameterError, match=r"'limit'.*parallelism"):
        operator.execute({})
    assert stripe_conn.requests == []


# -- 17: the email filter and the alert address ---------------------------------------------------


def test_an_explicit_email_is_the_filter_even_when_equal_to_the_alert_address(env: FakeStripe, run_dag):
    customers = env.seed(6)
    wanted = customers[2]["email"]
    dag_run, dag = run_dag(
        dag_source(
            f"""
StripeListCustomersOperator(task_id="explicit", email="{wanted}")
StripeListCustomersOperator(task_id="defaults_only")
StripeListCustomersOperator.partial(task_id="mapped_partial", email="{wanted}").expand(page_size=[100])
StripeListCustomersOperator.partial(task_id="mapped_expand").expand(email=["{wanted}"])
StripeListCustomersOperator.partial(task_id="mapped_defaults").expand(page_size=[100])
""",
            defaults=f'{{"email": "{wanted}"}}',  # the same string as the filter
        )
    )
    results = task_results(dag_run)
    ids = {key: [c["id"] for c in value["data"]] for key, (_, value) in results.items()}
    assert ids["explicit"] == ids["mapped_partial[0]"] == ids["mapped_expand[0]"] == [customers[2]["id"]]
    assert ids["defaults_only"] == ids["mapped_defaults[0]"] == [c["id"] for c in customers]
    for task_id in ("explicit", "defaults_only"):
        assert dag.get_task(task_id).email == wanted  # the alert address is untouched either way
    email_queries = [dict(r["query"]).get("email") for r in env.requests]
    assert email_queries.count(wanted) == 3 and email_queries.count(None) == 2


# -- 18: small ones -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["²", "٣", "1.5", "1e3", "0x10", " ", True])
def test_non_decimal_limits_are_parameter_errors(stripe_conn: FakeStripe, value):
    with pytest.raises(StripeParameterError, match="'limit'"):
        StripeHook().list_customers(limit=value)
    assert stripe_conn.requests == []


@pytest.mark.parametrize("value", [-1, "-5", "nan", "inf", "fast"])
def test_bad_max_requests_per_second_is_refused_once_named(stripe_server: FakeStripe, monkeypatch, value):
    use_connection(monkeypatch, stripe_server.url, max_requests_per_second=value)
    with pytest.raises(StripeConfigurationError, match="max_requests_per_second") as info:
        StripeHook().get_conn()
    assert str(info.value).count("Connection 'stripe_default'") == 1
    with pytest.raises(StripeConfigurationError, match="max_requests_per_second"):
        StripeHook(stripe_conn_id="stripe_default", max_requests_per_second=-2).get_conn()


# -- the same guarantees over TLS -----------------------------------------------------------------


@pytest.fixture
def tls_server(tmp_path) -> Iterator[tuple[FakeStripe, Path]]:
    """The fake server behind TLS with a self-signed certificate for 127.0.0.1."""
    import datetime as dt
    import ipaddress
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    server = FakeStripe()
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.start()
    try:
        yield server, cert_file
    finally:
        server.stop()


def test_tls_requests_are_bounded_by_the_timeout_too(tls_server, monkeypatch):
    server, cert_file = tls_server
    customers = server.seed(3)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert_file))
    https_url = server.url.replace("http://", "https://")
    use_connection(
        monkeypatch, https_url, key=LIVE_KEY, timeout=1.5, max_retries=0, max_requests_per_second=0
    )
    server.api_keys.add(LIVE_KEY)
    assert StripeHook().list_customers()["data"] == customers
    server.faults.append(Fault(trickle=0.2))
    start = time.monotonic()
    with pytest.raises(StripeConnectionError, match="within the timeout"):
        StripeHook().list_customers()
    assert time.monotonic() - start < 3


def test_an_untrusted_certificate_is_not_retried(tls_server, monkeypatch):
    server, _cert_file = tls_server
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    use_connection(monkeypatch, server.url.replace("http://", "https://"), max_retries=3)
    with pytest.raises(StripeConnectionError, match="TLS") as info:
        StripeHook().list_customers()
    assert not info.value.should_retry
