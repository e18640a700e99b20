"""StripeHook against the fake Stripe server: parameters, pagination, get, connection handling."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qsl, urlsplit

import airflow
import pendulum
import pytest
import requests

from airflow_provider_stripe import __version__
from airflow_provider_stripe.exceptions import (
    StripeConfigurationError,
    StripeInvalidRequestError,
    StripeNotFoundError,
    StripeParameterError,
    StripePermissionError,
)
from airflow_provider_stripe.hooks.stripe import StripeHook
from tests.conftest import conn_json
from tests.stripe_server import FakeStripe, fake_key


def ids(customers):
    return [c["id"] for c in customers]


def test_hook_attributes_and_no_io_in_init(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("__init__ must not read the connection")

    monkeypatch.setattr(StripeHook, "get_connection", boom)
    hook = StripeHook("my_stripe", stripe_account="acct_1", max_retries=2)
    assert hook.stripe_conn_id == "my_stripe"
    assert (StripeHook.conn_name_attr, StripeHook.default_conn_name) == ("stripe_conn_id", "stripe_default")
    assert (StripeHook.conn_type, StripeHook.hook_name) == ("stripe", "Stripe")
    assert repr(hook) == "StripeHook(stripe_conn_id='my_stripe')"


def test_list_customers_is_one_call_returning_stripes_list_object(stripe_conn: FakeStripe):
    newest_first = stripe_conn.seed(25)
    page = StripeHook().list_customers(limit=10)
    assert set(page) == {"object", "data", "has_more", "url"}
    assert (page["object"], page["url"], page["has_more"]) == ("list", "/v1/customers", True)
    assert page["data"] == newest_first[:10]
    assert len(stripe_conn.requests) == 1
    assert stripe_conn.requests[0]["query"] == [("limit", "10")]


def test_list_customers_cursors_and_filters(stripe_conn: FakeStripe):
    customers = stripe_conn.seed(30)
    hook = StripeHook()
    after = hook.list_customers(limit=5, starting_after=customers[4]["id"])
    assert ids(after["data"]) == ids(customers[5:10])
    before = hook.list_customers(limit=3, ending_before=customers[10]["id"])
    assert ids(before["data"]) == ids(customers[7:10])
    by_email = hook.list_customers(email=customers[3]["email"])
    assert ids(by_email["data"]) == [customers[3]["id"]]
    assert hook.list_customers(email=customers[3]["email"].upper())["data"] == []  # case-sensitive


@pytest.mark.parametrize(
    "created",
    [
        {"gte": 1_600_000_600, "lt": 1_600_001_200},
        {"gt": 1_600_000_540, "lte": 1_600_001_140},
        {"gte": "2020-09-13T12:36:40Z", "lt": pendulum.from_timestamp(1_600_001_200)},
        {"gte": dt.datetime.fromtimestamp(1_600_000_600, dt.UTC), "lt": "1600001200"},
    ],
)
def test_created_range_in_every_form(stripe_conn: FakeStripe, created):
    customers = stripe_conn.seed(40)  # created 1_600_000_000 + 60*i
    expected = [c["id"] for c in customers if 1_600_000_600 <= c["created"] < 1_600_001_200]
    assert len(expected) == 10
    assert ids(StripeHook().iter_customers(created=created)) == expected


def test_created_exact_second_and_encoding(stripe_conn: FakeStripe):
    customers = stripe_conn.seed(5)
    page = StripeHook().list_customers(created=customers[2]["created"])
    assert ids(page["data"]) == [customers[2]["id"]]
    StripeHook().list_customers(
        created={"gte": 10, "lt": 20}, expand=["data.default_source"], test_clock="clock_1"
    )
    query = stripe_conn.requests[-1]["query"]
    assert ("created[gte]", "10") in query and ("created[lt]", "20") in query
    assert ("expand[]", "data.default_source") in query and ("test_clock", "clock_1") in query


def test_test_clock_filter(stripe_conn: FakeStripe):
    stripe_conn.seed(3)
    clocked = stripe_conn.seed(2, test_clock="clock_abc")
    assert ids(StripeHook().iter_customers(test_clock="clock_abc")) == ids(clocked)


def test_iter_customers_pages_every_customer_once_newest_first(stripe_conn: FakeStripe):
    customers = stripe_conn.seed(1234)
    iterator = StripeHook().iter_customers(page_size=100)
    assert ids(iterator) == ids(customers)
    assert (iterator.pages, iterator.records, iterator.has_more) == (13, 1234, False)
    cursors = [dict(r["query"]).get("starting_after") for r in stripe_conn.requests]
    assert cursors[0] is None and all(cursors[1:])


def test_iter_customers_max_records_fetches_only_what_is_needed(stripe_conn: FakeStripe):
    customers = stripe_conn.seed(250)
    iterator = StripeHook().iter_customers(page_size=100, max_records=150)
    assert ids(iterator) == ids(customers[:150])
    assert iterator.has_more is True
    assert [dict(r["query"])["limit"] for r in stripe_conn.requests] == ["100", "50"]
    exact = StripeHook().iter_customers(max_records=250)
    assert len(list(exact)) == 250 and exact.has_more is False


def test_iter_customers_backwards_with_ending_before(stripe_conn: FakeStripe):
    customers = stripe_conn.seed(50)  # newest first
    cursor = customers[40]["id"]
    result = ids(StripeHook().iter_customers(page_size=7, ending_before=cursor))
    # Everything newer than the cursor, oldest first (towards the newest), like stripe-python.
    assert result == list(reversed(ids(customers[:40])))
    assert all("ending_before" in dict(r["query"]) for r in stripe_conn.requests)


def test_iter_customers_starting_after(stripe_conn: FakeStripe):
    customers = stripe_conn.seed(30)
    assert ids(StripeHook().iter_customers(page_size=4, starting_after=customers[9]["id"])) == ids(
        customers[10:]
    )


def test_records_are_returned_exactly_as_sent(stripe_conn: FakeStripe):
    customers = stripe_conn.seed(3, future_field={"nested": [1, 2]}, name="Zoë ✨")
    got = StripeHook().list_customers()["data"]
    assert got == customers
    assert all(type(c) is dict and c["future_field"] == {"nested": [1, 2]} for c in got)
    assert json.loads(json.dumps(got)) == got


def test_get_customer_live_deleted_and_unknown(stripe_conn: FakeStripe):
    customers = stripe_conn.seed(3)
    hook = StripeHook()
    assert hook.get_customer(customers[0]["id"]) == customers[0]
    stripe_conn.store().delete(customers[1]["id"])
    assert hook.get_customer(customers[1]["id"]) == {
        "id": customers[1]["id"],
        "object": "customer",
        "deleted": True,
    }
    with pytest.raises(StripeNotFoundError) as info:
        hook.get_customer("cus_missing")
    err = info.value
    assert (err.http_status, err.error_type, err.code, err.param) == (
        404,
        "invalid_request_error",
        "resource_missing",
        "id",
    )
    assert err.request_id == stripe_conn.requests[-1]["request_id"]
    assert "No such customer: 'cus_missing'" in str(err) and err.request_id in str(err)


def test_get_customer_expand(stripe_conn: FakeStripe):
    customers = stripe_conn.seed(1)
    StripeHook().get_customer(customers[0]["id"], expand="default_source")
    assert stripe_conn.requests[-1]["query"] == [("expand[]", "default_source")]


@pytest.mark.parametrize("evil", ["../customers", "a/b", "cus_1?limit=100", "cus_1#x", "cus_%2F", "cus.1"])
def test_customer_id_is_one_escaped_path_segment(stripe_conn: FakeStripe, evil):
    with pytest.raises(StripeNotFoundError):
        StripeHook().get_customer(evil)
    request = stripe_conn.requests[-1]
    assert request["path"].count("/") == 3 and request["path"].startswith("/v1/customers/")
    assert request["query"] == []
    assert f"No such customer: '{evil}'" in stripe_conn_error_message(stripe_conn, evil)


def stripe_conn_error_message(server: FakeStripe, customer_id: str) -> str:
    try:
        StripeHook().get_customer(customer_id)
    except StripeNotFoundError as exc:
        return str(exc)
    raise AssertionError("expected a 404")


@pytest.mark.parametrize("bad", ["", "   ", None])
def test_empty_customer_id_rejected_before_any_request(stripe_conn: FakeStripe, bad):
    with pytest.raises(StripeParameterError, match="'customer_id'"):
        StripeHook().get_customer(bad)
    assert stripe_conn.requests == []


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"starting_after": "cus_a", "ending_before": "cus_b"}, "ending_before"),
        ({"created": {}}, "created"),
        ({"created": {"since": 5}}, "created"),
        ({"created": {"gte": 20, "lt": 10}}, "created"),
        ({"created": "yesterday-ish"}, "created"),
        ({"created": {"gte": "not a date"}}, "created[gte]"),
        ({"expand": [""]}, "expand"),
        ({"email": "x" * 513}, "email"),
    ],
)
def test_bad_list_parameters_fail_before_any_request(stripe_conn: FakeStripe, kwargs, param):
    with pytest.raises(StripeParameterError) as info:
        StripeHook().list_customers(**kwargs)
    assert info.value.param == param and repr(param) in str(info.value)
    assert stripe_conn.requests == []


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [({"page_size": 0}, "page_size"), ({"page_size": 101}, "page_size"), ({"max_records": 0}, "max_records")],
)
def test_bad_iter_parameters_fail_eagerly(stripe_conn: FakeStripe, kwargs, param):
    with pytest.raises(StripeParameterError, match=param):
        StripeHook().iter_customers(**kwargs)  # raised on the call, not on first next()
    assert stripe_conn.requests == []


def test_unknown_cursor_is_stripes_400(stripe_conn: FakeStripe):
    stripe_conn.seed(2)
    with pytest.raises(StripeInvalidRequestError) as info:
        StripeHook().list_customers(starting_after="cus_nope")
    assert (info.value.http_status, info.value.code, info.value.param) == (
        400,
        "resource_missing",
        "starting_after",
    )
    assert len(stripe_conn.requests) == 1  # never retried


def test_headers_user_agent_account_version_and_session_reuse(stripe_server: FakeStripe, monkeypatch):
    stripe_server.seed(3, account="acct_123")
    monkeypatch.setenv(
        "AIRFLOW_CONN_STRIPE_DEFAULT",
        conn_json(stripe_server.url, stripe_account="acct_123", stripe_version="2024-06-20"),
    )
    hook = StripeHook()
    for _ in range(3):
        assert len(hook.list_customers()["data"]) == 3
    headers = stripe_server.requests[0]["headers"]
    assert headers["Stripe-Account"] == "acct_123"
    assert headers["Stripe-Version"] == "2024-06-20"
    assert headers["User-Agent"].startswith(
        f"airflow-provider-stripe/{__version__} (Apache Airflow {airflow.__version__}; "
    )
    assert headers["Authorization"].startswith("Bearer sk_test_")
    assert hook.get_conn() is hook.get_conn()
    # One keep-alive connection serves every request of the hook.
    assert len({r["headers"].get("Connection", "keep-alive") for r in stripe_server.requests}) == 1
    assert isinstance(hook.get_conn()._session, requests.Session)


def test_keyword_arguments_override_connection_extras(stripe_server: FakeStripe, monkeypatch):
    stripe_server.seed(2, account="acct_override")
    stripe_server.seed(1, account="acct_conn")
    monkeypatch.setenv(
        "AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(stripe_server.url, stripe_account="acct_conn", timeout="12")
    )
    hook = StripeHook(stripe_account="acct_override", timeout=3)
    assert len(hook.list_customers()["data"]) == 2
    assert hook.get_conn().timeout == 3.0
    assert StripeHook().get_conn().timeout == 12.0  # extras from the UI may arrive as strings


def test_connect_account_unknown_is_permission_error(stripe_conn: FakeStripe):
    with pytest.raises(StripePermissionError, match="acct_unknown"):
        StripeHook(stripe_account="acct_unknown").list_customers()


def test_basic_auth_is_accepted_by_the_server(stripe_server: FakeStripe):
    stripe_server.seed(1)
    ok = requests.get(f"{stripe_server.url}/v1/customers", auth=("sk_test_fakeserverkey", ""), timeout=5)
    assert ok.status_code == 200 and len(ok.json()["data"]) == 1
    bad = requests.get(f"{stripe_server.url}/v1/customers", auth=("sk_test_wrong", ""), timeout=5)
    assert bad.status_code == 401 and bad.headers["Request-Id"].startswith("req_")


def test_connection_from_metadata_database_style_uri(stripe_server: FakeStripe, monkeypatch):
    """A URI-form connection (as from the CLI or a secrets backend) works too."""
    stripe_server.seed(2)
    host = urlsplit(stripe_server.url)
    monkeypatch.setenv(
        "AIRFLOW_CONN_STRIPE_URI",
        f"stripe://:sk_test_fakeserverkey@{host.hostname}:{host.port}/?max_retries=1",
    )
    monkeypatch.setattr("airflow_provider_stripe.api.transport.DEFAULT_BASE_URL", "unused")
    hook = StripeHook("stripe_uri")
    client = hook.get_conn()
    # A URI host has no scheme: https is assumed, and the port is kept.
    assert client.base_url == f"https://{host.hostname}:{host.port}"
    assert client.max_retries == 1


def test_test_connection_success_and_failure(stripe_conn: FakeStripe, monkeypatch):
    ok, message = StripeHook().test_connection()
    assert ok and "test mode" in message
    assert dict(stripe_conn.requests[-1]["query"]) == {"limit": "1"}
    monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(stripe_conn.url, key="sk_test_revoked"))
    ok, message = StripeHook().test_connection()
    assert not ok and "401" in message and "Invalid API Key" in message and "Request-Id=req_" in message
    stripe_conn.forbidden_keys.add("rk_test_noperm")
    monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(stripe_conn.url, key="rk_test_noperm"))
    ok, message = StripeHook().test_connection()
    assert not ok and "403" in message and "permission" in message


def test_test_connection_never_raises(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json("http://127.0.0.1:9", max_retries=0))
    ok, message = StripeHook().test_connection()
    assert not ok and "Could not reach http://127.0.0.1:9" in message
    monkeypatch.delenv("AIRFLOW_CONN_STRIPE_DEFAULT")
    ok, message = StripeHook().test_connection()
    assert not ok and "stripe_default" in message


def test_missing_key_names_the_connection(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_MY_STRIPE", json.dumps({"conn_type": "stripe", "host": "http://127.0.0.1:9"})
    )
    with pytest.raises(StripeConfigurationError, match="'my_stripe' has no Stripe secret key"):
        StripeHook("my_stripe").list_customers()


def test_publishable_key_rejected_before_any_request(stripe_conn: FakeStripe, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(stripe_conn.url, key="pk_test_abc"))
    with pytest.raises(StripeConfigurationError, match="publishable key"):
        StripeHook().list_customers()
    assert stripe_conn.requests == []


@pytest.mark.parametrize("prefix", ["sk_live", "rk_live"])
def test_live_key_never_sent_over_plain_http_except_loopback(monkeypatch, prefix):
    key = fake_key(prefix)
    monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json("http://stripe-proxy.internal:8080", key=key))
    with pytest.raises(StripeConfigurationError, match="plain http") as info:
        StripeHook().get_conn()
    assert key not in str(info.value)
    for loopback in ("http://127.0.0.1:1", "http://localhost:1", "http://[::1]:1"):
        monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(loopback, key=key))
        assert StripeHook().get_conn().mode == "live"
    monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json("https://stripe-proxy.internal", key=key))
    assert StripeHook().get_conn().base_url == "https://stripe-proxy.internal"


def test_default_base_url_is_stripe(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_STRIPE_DEFAULT", json.dumps({"conn_type": "stripe", "password": "sk_test_x"})
    )
    client = StripeHook().get_conn()
    assert client.base_url == "https://api.stripe.com"
    assert client.max_retries == 5 and client.timeout == 80.0
    assert "sk_test_x" not in repr(client)


def test_bad_extra_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json("http://127.0.0.1:9", max_retries="many"))
    with pytest.raises(StripeConfigurationError, match="'max_retries': must be an integer, got 'many'"):
        StripeHook().get_conn()


def test_server_url_query_is_well_formed(stripe_conn: FakeStripe):
    stripe_conn.seed(1)
    StripeHook().list_customers(email="a+b@example.com")
    raw = stripe_conn.requests[-1]["raw_path"]
    assert dict(parse_qsl(urlsplit(raw).query)) == {"email": "a+b@example.com"}


def test_environment_proxies_are_honoured_once(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv(
        "AIRFLOW_CONN_STRIPE_DEFAULT", json.dumps({"conn_type": "stripe", "password": "sk_test_x"})
    )
    assert StripeHook().get_conn()._session.proxies.get("https") == "http://proxy.invalid:3128"
    monkeypatch.setenv("NO_PROXY", "api.stripe.com")
    assert StripeHook().get_conn()._session.proxies == {}


def test_a_netrc_entry_never_replaces_the_key(stripe_conn: FakeStripe, monkeypatch, tmp_path):
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login sk_test_fromnetrc password x\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    stripe_conn.seed(1)
    StripeHook().list_customers()
    assert stripe_conn.requests[-1]["headers"]["Authorization"] == "Bearer sk_test_fakeserverkey"


def test_connection_from_the_metadata_database(stripe_server: FakeStripe, run_dag):
    """Inside a task, the connection comes from the metadata DB (through the execution API)."""
    from airflow.models.connection import Connection as ConnectionModel
    from airflow.utils.session import create_session

    from tests.conftest import task_results

    stripe_server.seed(2)
    with create_session() as session:
        session.query(ConnectionModel).filter(ConnectionModel.conn_id == "stripe_from_db").delete()
        session.add(
            ConnectionModel(
                conn_id="stripe_from_db",
                conn_type="stripe",
                host=stripe_server.url,
                password="sk_test_fakeserverkey",
                extra=json.dumps({"max_retries": 2}),
            )
        )
    dag_run, _ = run_dag(
        """
        import pendulum
        from airflow.sdk import DAG, task
        from airflow_provider_stripe.hooks.stripe import StripeHook
        with DAG("DAG_ID", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
            @task
            def from_db():
                hook = StripeHook("stripe_from_db")
                return [len(hook.list_customers()["data"]), hook.get_conn().max_retries]
            from_db()
        """
    )
    assert task_results(dag_run)["from_db"] == ("success", [2, 2])


def test_connection_from_a_secrets_backend(stripe_server: FakeStripe, tmp_path):
    """A configured secrets backend (the local-filesystem one) serves the connection."""
    import subprocess
    import sys

    stripe_server.seed(3)
    connections = tmp_path / "connections.json"
    connections.write_text(
        json.dumps(
            {
                "stripe_vault": {
                    "conn_type": "stripe",
                    "host": stripe_server.url,
                    "password": "sk_test_fakeserverkey",
                }
            }
        )
    )
    env = {
        **__import__("os").environ,
        "AIRFLOW__SECRETS__BACKEND": "airflow.secrets.local_filesystem.LocalFilesystemBackend",
        "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps({"connections_file_path": str(connections)}),
    }
    script = (
        "from airflow_provider_stripe.hooks.stripe import StripeHook\n"
        "print(len(StripeHook('stripe_vault').list_customers()['data']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "3"
    assert "sk_test_fakeserverkey" not in result.stdout + result.stderr


def test_progress_is_logged_with_records_pages_rate_and_retries(stripe_conn: FakeStripe, monkeypatch, caplog):
    import logging

    stripe_conn.seed(300)
    monkeypatch.setattr("airflow_provider_stripe.api.pagination.PROGRESS_LOG_INTERVAL", 0.0)
    with caplog.at_level(logging.INFO, logger="airflow_provider_stripe.api.pagination"):
        assert len(list(StripeHook().iter_customers(page_size=100))) == 300
    progress = [r.getMessage() for r in caplog.records if "so far" in r.getMessage()]
    assert len(progress) == 3
    assert progress[-1].startswith("Stripe customers: 300 records in 3 pages")
    assert "records/s" in progress[-1] and "requests/s" in progress[-1] and "0 retries" in progress[-1]
