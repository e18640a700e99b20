"""Helpers of the Airflow layer: writing results to object storage."""
