"""Apache Airflow provider for Stripe: a hook and operators that bring Stripe data into pipelines."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
