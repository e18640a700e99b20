"""The secret key never leaks: not in logs (any level), exceptions, reprs or output."""

from __future__ import annotations

import logging
import secrets

import pytest

from airflow_provider_stripe.exceptions import StripeError
from airflow_provider_stripe.hooks.stripe import StripeHook
from tests.conftest import conn_json
from tests.stripe_server import FakeStripe, Fault


def test_the_key_appears_nowhere(stripe_server: FakeStripe, monkeypatch, caplog, capsys):
    key = f"sk_test_LEAKCHECK{secrets.token_hex(16)}"
    stripe_server.api_keys.add(key)
    stripe_server.seed(120, account="acct_leak")
    stripe_server.seed(120)
    monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(stripe_server.url, key=key, max_retries=4))
    monkeypatch.setattr("airflow_provider_stripe.api.retries.INITIAL_BACKOFF", 0.01)
    seen: list[str] = []
    caplog.set_level(logging.DEBUG)
    hook = StripeHook()
    seen += [repr(hook), str(hook), repr(hook.get_conn()), repr(hook.get_conn().__dict__.get("stats"))]
    stripe_server.faults.extend([Fault(status=429), Fault(status=500), Fault(drop=True)])
    customers = list(hook.iter_customers(page_size=50))
    seen.append(repr(customers))
    seen.append(repr(hook.list_customers(limit=2, created={"gte": 0})))
    seen.append(repr(hook.get_customer(customers[0]["id"])))
    seen.append(repr(hook.test_connection()))
    seen.append(repr(StripeHook(stripe_account="acct_leak").list_customers()))
    failing = [
        lambda: hook.get_customer("cus_missing"),
        lambda: hook.list_customers(starting_after="cus_missing"),
        lambda: hook.list_customers(limit=0),
        lambda: StripeHook(stripe_account="acct_none").list_customers(),
    ]
    stripe_server.fault_rate, stripe_server.random_faults = 1.0, [Fault(status=503)]
    failing.append(lambda: hook.list_customers())
    for call in failing:
        with pytest.raises(StripeError) as info:
            call()
        seen += [str(info.value), repr(info.value), repr(info.value.__dict__)]
    stripe_server.fault_rate = 0
    # Every way the key could be misconfigured still keeps it out of the message.
    for bad_key in (key.replace("sk_test", "pk_test"), key.replace("sk_test", "sk_live")):
        monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json("http://10.1.2.3:1", key=bad_key))
        with pytest.raises(StripeError) as info:
            StripeHook().get_conn()
        seen.append(str(info.value))
        assert bad_key not in str(info.value)
    _ok, message = StripeHook().test_connection()
    seen.append(message)
    captured = capsys.readouterr()
    seen += [captured.out, captured.err, caplog.text]
    seen += [record.getMessage() + repr(record.args) for record in caplog.records]
    assert caplog.records, "the run logged nothing, so the scan proves nothing"
    assert any("retrying" in record.getMessage() for record in caplog.records)
    secret_body = key[len("sk_test_") :]
    for text in seen:
        assert secret_body not in text


def test_key_is_registered_with_the_secrets_masker(stripe_server: FakeStripe, monkeypatch):
    registered: list[str] = []
    monkeypatch.setattr("airflow_provider_stripe.hooks.stripe.mask_secret", registered.append)
    monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(stripe_server.url))
    StripeHook().get_conn()
    assert registered == ["sk_test_fakeserverkey"]
