"""Every difference between the Airflow versions we support (3.1, 3.2, 3.3), in one place.

As official providers do (``version_compat.py``), the rest of the package imports
these names from here and never checks the version itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING


def get_base_airflow_version_tuple() -> tuple[int, int, int]:
    """``(major, minor, micro)`` of the installed Airflow, without pre-release or local parts."""
    from airflow import __version__
    from packaging.version import Version

    version = Version(__version__)
    return version.major, version.minor, version.micro


AIRFLOW_V_3_2_PLUS = get_base_airflow_version_tuple() >= (3, 2, 0)

if TYPE_CHECKING or AIRFLOW_V_3_2_PLUS:
    # 3.2 moved them to the Task SDK, and tasks raise and catch those.
    from airflow.sdk import CronDataIntervalTimetable
    from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowNotFoundException
else:  # 3.1: the Task SDK raises and catches airflow.exceptions' classes
    from airflow.exceptions import AirflowException, AirflowFailException, AirflowNotFoundException
    from airflow.timetables.interval import CronDataIntervalTimetable

__all__ = [
    "AIRFLOW_V_3_2_PLUS",
    "AirflowException",
    "AirflowFailException",
    "AirflowNotFoundException",
    "CronDataIntervalTimetable",
    "get_base_airflow_version_tuple",
]
