"""Promises a hostile data engineer tested (issue 20): filters that would widen an export, rates that
a 429 lifts, settings that hang or crash, and retries that burst.

Each test goes through the public API (hook or operator) against the local test server.
"""

from __future__ import annotations

import itertools
import time

import pytest

from airflow_provider_stripe.exceptions import (
    StripeConfigurationError,
    StripeParameterError,
    StripeRateLimitError,
)
from airflow_provider_stripe.hooks.stripe import StripeHook
from tests.conftest import conn_json, task_results
from tests.stripe_server import FakeStripe, Fault
from tests.test_operators import dag_source

# -- 1. an empty or "None" filter never widens nor empties an export ------------------------------

EMPTY_VALUES = ["", "   ", "None"]
#: One filter of each kind a template can fill: an id, an email, free text, a list of strings.
FILTERS = [
    ("invoices", "customer"),
    ("customers", "email"),
    ("charges", "transfer_group"),
    ("prices", "lookup_keys"),
]


@pytest.mark.parametrize("value", EMPTY_VALUES)
@pytest.mark.parametrize(("resource", "name"), FILTERS)
def test_an_empty_or_none_filter_fails_naming_it_before_any_request(
    stripe_conn: FakeStripe, resource: str, name: str, value: str
):
    hook = StripeHook()
    with pytest.raises(
        StripeParameterError, match=rf"^Invalid parameter '{name}': is '{value}': an empty value"
    ) as info:
        hook.iter_objects(resource, **{name: value})
    assert info.value.param == name
    with pytest.raises(StripeParameterError, match=f"^Invalid parameter '{name}': "):
        hook.list_objects(resource, **{name: value})
    if name == "lookup_keys":  # an empty item of a list is refused too
        with pytest.raises(StripeParameterError, match=f"^Invalid parameter '{name}': "):
            hook.iter_objects(resource, **{name: ["key_1", value]})
    assert stripe_conn.requests == []


def test_the_customers_hook_refuses_an_empty_email_and_none_means_not_set(stripe_conn: FakeStripe):
    stripe_conn.seed(3)
    with pytest.raises(StripeParameterError, match=r"^Invalid parameter 'email': "):
        StripeHook().iter_customers(email="")
    assert stripe_conn.requests == []
    assert len(list(StripeHook().iter_customers(email=None))) == 3


def test_none_as_a_python_value_means_not_set(stripe_conn: FakeStripe):
    stripe_conn.seed_objects("invoices", 3, customer="cus_A")
    stripe_conn.seed_objects("invoices", 2, customer="cus_B")
    assert len(list(StripeHook().iter_objects("invoices", customer=None))) == 5
    assert len(list(StripeHook().iter_objects("invoices", customer="cus_B"))) == 2


@pytest.mark.parametrize(
    ("operator", "param"),
    [
        ('StripeListOperator(task_id="bad", retries=3, resource="invoices", '
         'filters={"customer": "{{ params.customer_id }}"}, params={"customer_id": PARAM})', "customer"),
        ('StripeListCustomersOperator(task_id="bad", retries=3, customer_email="{{ params.email }}", '
         'params={"email": PARAM})', "email"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("param_value", ["''", "None"])
def test_a_template_rendering_empty_or_none_fails_the_task_at_once(
    stripe_env: FakeStripe, run_dag, capfd, operator: str, param: str, param_value: str
):
    stripe_env.seed_objects("invoices", 3, customer="cus_A")
    stripe_env.seed(3)
    source = dag_source(
        "from airflow_provider_stripe.operators import StripeListCustomersOperator\n"
        + operator.replace("PARAM", param_value)
    )
    dag_run, _ = run_dag(source)
    assert dag_run.state == "failed"
    ti = dag_run.get_task_instance("bad")
    assert ti.try_number == 1 and ti.state == "failed"  # AirflowFailException: no retry
    assert f"Invalid parameter '{param}': is " in capfd.readouterr().out
    assert stripe_env.requests == []


def test_a_rendered_filter_still_filters(stripe_env: FakeStripe, run_dag):
    stripe_env.seed_objects("invoices", 3, customer="cus_A")
    stripe_env.seed_objects("invoices", 2, customer="cus_B")
    dag_run, _ = run_dag(
        dag_source(
            'StripeListOperator(task_id="ok", resource="invoices", '
            'filters={"customer": "{{ params.customer_id }}"}, params={"customer_id": "cus_B"})'
        )
    )
    assert dag_run.state == "success"
    assert {r["customer"] for r in task_results(dag_run)["ok"][1]["data"]} == {"cus_B"}


# -- 3. a cut never lifts a rate above its ceiling ------------------------------------------------


def test_a_429_never_lifts_a_configured_rate_above_it(stripe_server: FakeStripe, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_STRIPE_DEFAULT",
        conn_json(stripe_server.url, max_requests_per_second=0.15, max_retries=0),
    )
    stripe_server.faults.append(Fault(status=429))  # no reason: the overall rate is cut
    hook = StripeHook()
    with pytest.raises(StripeRateLimitError):
        hook.list_customers()
    pacer = hook.get_conn().pacer
    assert pacer.overall is not None and 0 < pacer.overall.rate <= 0.15
    assert all(0 < rate.rate <= 0.15 for rate in pacer.endpoints.values())
    assert "pacing 0.1/s" in pacer.summary()


def test_a_search_429_never_lifts_the_search_rate_above_a_configured_rate(
    stripe_server: FakeStripe, monkeypatch
):
    monkeypatch.setenv(
        "AIRFLOW_CONN_STRIPE_DEFAULT",
        conn_json(stripe_server.url, max_requests_per_second=0.1, max_retries=0),
    )
    stripe_server.faults.append(Fault(status=429, headers={"Stripe-Rate-Limited-Reason": "endpoint-rate"}))
    hook = StripeHook()
    with pytest.raises(StripeRateLimitError):
        list(hook.search("customers", "email:'a@example.com'"))
    assert 0 < hook.get_conn().pacer.search.rate <= 0.1


# -- 4. settings that cannot work are refused, naming the setting and its range -------------------

REFUSED = [
    ("max_requests_per_second", 1e-6, "at least 0.01 and at most 10000"),
    ("max_requests_per_second", 1e-320, "at least 0.01 and at most 10000"),
    ("max_requests_per_second", 1e300, "at least 0.01 and at most 10000"),
    ("max_requests_per_second", "nan", "at least 0.01 and at most 10000"),
    ("timeout", 1e12, "at least 0.001 and at most 3600"),
    ("timeout", "inf", "at least 0.001 and at most 3600"),
    ("max_retry_wait", 1e300, "at least 0 and at most 86400"),
    ("max_retries", 10**9, "at most 100"),
]


@pytest.mark.parametrize(("setting", "value", "allowed"), REFUSED)
def test_a_setting_that_cannot_work_is_refused_from_the_connection(
    stripe_server: FakeStripe, monkeypatch, setting: str, value: object, allowed: str
):
    monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(stripe_server.url, **{setting: value}))
    with pytest.raises(
        StripeConfigurationError,
        match=f"Connection 'stripe_default': Invalid parameter '{setting}': .*{allowed}",
    ):
        StripeHook().list_customers()
    assert stripe_server.requests == []


@pytest.mark.parametrize(("setting", "value", "allowed"), REFUSED)
def test_a_setting_that_cannot_work_is_refused_from_the_hook(
    stripe_conn: FakeStripe, setting: str, value: object, allowed: str
):
    with pytest.raises(
        StripeConfigurationError,
        match=rf"Invalid parameter '{setting}': .*{allowed}.*\(a task or hook setting\)",
    ):
        StripeHook(**{setting: value}).list_customers()  # type: ignore[arg-type]
    assert stripe_conn.requests == []


def test_an_extreme_rate_from_an_operator_fails_the_task_at_once(stripe_env: FakeStripe, run_dag, capfd):
    dag_run, _ = run_dag(
        dag_source(
            'StripeListOperator(task_id="bad", retries=3, resource="charges", max_requests_per_second=1e-6)'
        )
    )
    assert dag_run.state == "failed"
    assert dag_run.get_task_instance("bad").try_number == 1
    assert (
        "'max_requests_per_second': must be 0 (no pacing) or a number at least 0.01 and at most 10000"
        in capfd.readouterr().out
    )
    assert stripe_env.requests == []


def test_settle_seconds_beyond_an_hour_is_refused(stripe_conn: FakeStripe):
    with pytest.raises(
        StripeParameterError, match="'settle_seconds': must be a number at least 0 and at most 3600"
    ):
        StripeHook().iter_changes("customers", created={"gte": int(time.time()) - 600}, settle_seconds=1e308)
    assert stripe_conn.requests == []


def test_the_slowest_rate_allowed_waits_a_bounded_time(stripe_conn: FakeStripe, monkeypatch):
    """At 0.01/s (the floor) the second request waits 100 s, not 10⁶: read the pacer's reservation."""
    stripe_conn.seed(1)
    hook = StripeHook(max_requests_per_second=0.01)
    hook.list_customers()
    overall = hook.get_conn().pacer.overall
    assert overall is not None
    assert overall.reserve(time.monotonic()) - time.monotonic() <= 100.0


def test_the_connection_form_bounds_every_number_as_the_client_does():
    from airflow_provider_stripe.get_provider_info import get_provider_info

    (conn,) = get_provider_info()["connection-types"]
    fields = conn["conn-fields"]
    from airflow_provider_stripe.api import params

    bounds = {
        name: (field["schema"].get("minimum"), field["schema"].get("maximum"))
        for name, field in fields.items()
    }
    assert bounds == {
        "stripe_account": (None, None),
        "stripe_version": (None, None),
        "max_retries": (0, params.MAX_RETRIES),
        "max_retry_wait": (0, params.MAX_RETRY_WAIT),
        "timeout": (params.MIN_TIMEOUT, params.MAX_TIMEOUT),
        "max_requests_per_second": (0, params.MAX_REQUESTS_PER_SECOND),
    }
    # Fractions where the client takes them: a 0.5 s timeout or 0.5 req/s is valid in the form too.
    kinds = {name: field["schema"]["type"][0] for name, field in fields.items()}
    assert kinds == {
        "stripe_account": "string",
        "stripe_version": "string",
        "max_retries": "integer",
        "max_retry_wait": "number",
        "timeout": "number",
        "max_requests_per_second": "number",
    }


# -- 5. a retry waits at least its backoff, whatever Retry-After says -----------------------------


def test_retry_after_zero_with_pacing_off_does_not_retry_in_a_burst(stripe_server: FakeStripe, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_STRIPE_DEFAULT",
        conn_json(stripe_server.url, max_requests_per_second=0, max_retries=5),
    )
    monkeypatch.setattr("airflow_provider_stripe.api.retries.INITIAL_BACKOFF", 0.1)
    stripe_server.seed(1)
    stripe_server.faults.extend([Fault(status=429, headers={"Retry-After": "0"}) for _ in range(3)])
    StripeHook().list_customers()
    times = [r["time"] for r in stripe_server.requests]
    assert len(times) == 4
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # Each wait is at least half the exponential backoff (its jitter floor): 0.05, 0.1, 0.2 s.
    assert all(gap >= 0.05 * 2**n - 0.01 for n, gap in enumerate(gaps)), gaps


def test_a_longer_retry_after_is_still_honoured(stripe_server: FakeStripe, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(stripe_server.url, max_requests_per_second=0))
    monkeypatch.setattr("airflow_provider_stripe.api.retries.INITIAL_BACKOFF", 0.01)
    stripe_server.seed(1)
    stripe_server.faults.append(Fault(status=503, headers={"Retry-After": "0.5"}))
    StripeHook().list_customers()
    first, second = (r["time"] for r in stripe_server.requests)
    assert second - first >= 0.5


# -- 6. what the docs promise of change capture: customers only, for now -------------------------


@pytest.mark.parametrize("resource", ["invoices", "subscriptions", "charges"])
def test_change_capture_of_another_object_fails_before_the_connection_is_read(monkeypatch, resource: str):
    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("the Connection must not be read for a request that cannot work")

    monkeypatch.setattr("airflow.sdk.BaseHook.get_connection", boom)
    with pytest.raises(StripeParameterError, match=r"has no change capture yet \(it has: customers\)"):
        StripeHook().iter_changes(resource, created={"gte": int(time.time()) - 600})


@pytest.mark.parametrize(
    ("setting", "value"), [("page_size", 0), ("page_size", 101), ("parallelism", 0), ("parallelism", 33)]
)
def test_change_capture_paging_settings_fail_before_the_connection_is_read(monkeypatch, setting, value):
    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("the Connection must not be read for a request that cannot work")

    monkeypatch.setattr("airflow.sdk.BaseHook.get_connection", boom)
    with pytest.raises(StripeParameterError, match=setting):
        StripeHook().iter_changes("customers", created={"gte": int(time.time()) - 600}, **{setting: value})


@pytest.mark.parametrize(
    ("extra", "setting"),
    [
        ({"max_retries": 5.9}, "max_retries"),
        ({"timeout": True}, "timeout"),
        ({"max_retry_wait": "x"}, "max_retry_wait"),
    ],
)
def test_connection_settings_are_checked_as_given_never_rounded(
    stripe_server: FakeStripe, monkeypatch, extra, setting
):
    """5.9 retries is not 5, and ``true`` is no timeout: refused, naming the setting, before any request."""
    monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(stripe_server.url, **extra))
    with pytest.raises(StripeConfigurationError, match=setting):
        StripeHook().list_customers()
    assert stripe_server.requests == []


def test_a_whole_number_given_as_a_float_is_that_integer(stripe_server: FakeStripe, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(stripe_server.url, max_retries=3.0))
    assert StripeHook().get_conn().max_retries == 3
