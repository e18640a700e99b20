"""Parameter validation and ``created`` normalisation."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from airflow_provider_stripe.api.encoding import encode_params, object_path
from airflow_provider_stripe.api.params import created_bounds, normalize_created, object_list_params, to_unix
from airflow_provider_stripe.api.registry import get_resource
from airflow_provider_stripe.api.transport import base_url_from
from airflow_provider_stripe.exceptions import StripeConfigurationError, StripeParameterError


@pytest.mark.parametrize(
    "value",
    [
        1_700_000_000,
        "1700000000",
        "2023-11-14T22:13:20Z",
        "2023-11-14T23:13:20+01:00",
        dt.datetime(2023, 11, 14, 22, 13, 20),  # naive means UTC
        dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC),
        pendulum.datetime(2023, 11, 14, 22, 13, 20),
    ],
)
def test_to_unix_accepts_every_form(value):
    assert to_unix(value) == 1_700_000_000


def test_fractional_bounds_keep_their_meaning():
    assert normalize_created({"gte": 10.5, "lt": 20.5}) == {"gte": 11, "lt": 21}
    assert normalize_created({"gt": 10.5, "lte": 20.5}) == {"gt": 10, "lte": 20}
    assert created_bounds({"gt": 10, "lte": 20}) == (11, 21)
    assert created_bounds(15) == (15, 16)


@pytest.mark.parametrize(
    ("created", "fragment"),
    [
        ({}, "empty range"),
        ({"gte": None}, "empty range"),
        ({"from": 1}, "unknown key"),
        ({"gte": 10, "lt": 10}, "empty range"),
        ({"gt": 10, "lte": 10}, "empty range"),
        ("", "empty timestamp"),
        ("soon", "cannot parse"),
        (True, "boolean"),
        (-5, "not a valid timestamp"),
        ([1, 2], "expected Unix seconds"),
    ],
)
def test_bad_created(created, fragment):
    with pytest.raises(StripeParameterError, match=fragment):
        normalize_created(created)


def test_object_list_params_drops_unset_and_keeps_set():
    customers = get_resource("customers")
    assert object_list_params(customers) == {}
    assert object_list_params(
        customers, limit="5", expand="data.x", filters={"email": "a@b.c", "test_clock": None}
    ) == {"limit": 5, "email": "a@b.c", "expand": ["data.x"]}


def test_object_list_params_adds_defaults_that_would_hide_data_unless_given():
    subscriptions = get_resource("subscriptions")
    assert object_list_params(subscriptions)["status"] == "all"
    assert object_list_params(subscriptions, filters={"status": "active"})["status"] == "active"


def test_encode_params_uses_stripes_brackets():
    assert encode_params(
        {"created": {"gte": 1, "lt": 2}, "expand": ["a", "b"], "limit": 3, "x": None, "f": True}
    ) == [
        ("created[gte]", "1"),
        ("created[lt]", "2"),
        ("expand[]", "a"),
        ("expand[]", "b"),
        ("limit", "3"),
        ("f", "true"),
    ]


def test_object_path_escapes_everything_but_id_characters():
    assert object_path("customers", "cus_AZaz09-_") == "customers/cus_AZaz09-_"
    assert object_path("customers", "../x?y#z%") == "customers/%2E%2E%2Fx%3Fy%23z%25"
    with pytest.raises(StripeParameterError):
        object_path("customers", "")


def test_base_url_from():
    assert base_url_from(None) == "https://api.stripe.com"
    assert base_url_from("proxy.local", 8443) == "https://proxy.local:8443"
    assert base_url_from("http://127.0.0.1:5/", 5) == "http://127.0.0.1:5"
    assert base_url_from("https://gw.example.com/stripe/", 8443) == "https://gw.example.com:8443/stripe"
    with pytest.raises(StripeConfigurationError, match="give the port once"):
        base_url_from("http://127.0.0.1:5/", 9)


def test_export_window_is_the_data_interval_when_there_is_one():
    from types import SimpleNamespace

    from airflow_provider_stripe.windows import export_window

    start, end = pendulum.datetime(2024, 6, 1, tz="UTC"), pendulum.datetime(2024, 6, 2, tz="UTC")
    run = SimpleNamespace(data_interval_start=start, data_interval_end=end, run_after=end.add(days=9))
    assert export_window(run) == (start, end)


@pytest.mark.parametrize(
    ("run_after", "period", "expected"),
    [
        ("2024-06-02T09:30:00+00:00", "day", ("2024-06-01T00:00:00+00:00", "2024-06-02T00:00:00+00:00")),
        ("2024-06-02T00:00:00+00:00", "day", ("2024-06-01T00:00:00+00:00", "2024-06-02T00:00:00+00:00")),
        ("2024-06-02T01:30:00+02:00", "day", ("2024-05-31T00:00:00+00:00", "2024-06-01T00:00:00+00:00")),
        ("2024-06-02T09:30:00+00:00", "hour", ("2024-06-02T08:00:00+00:00", "2024-06-02T09:00:00+00:00")),
    ],
)
def test_export_window_without_a_logical_date_is_the_last_full_period(run_after, period, expected):
    from types import SimpleNamespace

    from airflow_provider_stripe.windows import export_window

    run = SimpleNamespace(
        data_interval_start=None, data_interval_end=None, run_after=dt.datetime.fromisoformat(run_after)
    )
    window = export_window(run, period)
    assert (window.start.isoformat(), window.end.isoformat()) == expected
