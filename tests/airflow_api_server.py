"""Run ``airflow api-server`` with the upstream fix for Airflow 3.3.2's portless Test button.

In Airflow 3.3.2 the UI's *Test* button sends ``port: 0`` for a connection without
a port, and the API answers 400 ("The host or port to test differs from the stored
connection") for every such connection type — aws, http, generic, and stripe.
apache/airflow#73298 fixes it in the API by treating ``0`` like a blank port; this
runner applies the same one-line normalisation until a release carries it (on an
Airflow that has the fix it changes nothing). It changes nothing else.

Usage: ``python tests/airflow_api_server.py HOST PORT``
"""

from __future__ import annotations

import sys

from airflow.api_fastapi.core_api.routes.public import connections


def main() -> None:
    host, port = sys.argv[1], sys.argv[2]
    original = getattr(connections, "_same_endpoint", None)  # older releases have no such check
    if original is not None:

        def same_endpoint(requested: str | int | None, stored: str | int | None) -> bool:
            return bool(original(None if requested == 0 else requested, stored))

        connections._same_endpoint = same_endpoint
    from airflow.__main__ import main as airflow_main

    sys.argv = ["airflow", "api-server", "-H", host, "-p", port, "-w", "1"]
    airflow_main()


if __name__ == "__main__":
    main()
