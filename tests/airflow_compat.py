"""What the tests use of Airflow that moved between 3.1, 3.2 and 3.3, in one place."""

from __future__ import annotations

import functools
from typing import Any

from airflow_provider_stripe.version_compat import AIRFLOW_V_3_2_PLUS

if AIRFLOW_V_3_2_PLUS:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime
else:  # 3.1: one ProvidersManager serves tasks too
    from airflow.models.dagbag import DagBag
    from airflow.providers_manager import ProvidersManager as ProvidersManagerTaskRuntime


def reuse_one_execution_api() -> None:
    """Keep one in-process execution API for every ``dag.test()``, as Airflow 3.3 does.

    Before 3.3, ``dag.test()`` builds a new one for each task, and its first requests take seconds.
    """
    from airflow.sdk.execution_time import supervisor

    server: Any = supervisor.in_process_api_server
    if not hasattr(server, "cache_info"):
        supervisor.in_process_api_server = functools.lru_cache(maxsize=1)(server)  # type: ignore[assignment]


__all__ = ["DagBag", "ProvidersManagerTaskRuntime", "reuse_one_execution_api"]
