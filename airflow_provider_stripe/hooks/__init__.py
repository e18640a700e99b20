"""Hooks of the Stripe provider."""

from __future__ import annotations

from airflow_provider_stripe.hooks.stripe import StripeHook

__all__ = ["StripeHook"]
