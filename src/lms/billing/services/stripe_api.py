"""The Stripe client, built from settings (never at import), and the one error billing raises for it."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import stripe

from lms.config import Settings
from lms.lib.errors import DomainError


class PaymentsNotConfigured(DomainError):
    status = 503
    code = "payments_not_configured"


class PaymentProviderError(DomainError):
    status = 502
    code = "payment_provider_error"


class BodyAsContentClient(stripe.HTTPXClient):
    """Stripe's httpx client, sending the encoded form as `content=`: httpx deprecates raw bytes
    passed as `data=` (and the library passes exactly that)."""

    def _get_request_args_kwargs(self, method: str, url: str, headers: Mapping[str, str], post_data: Any) -> Any:
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        body = kwargs.pop("data", None)
        if body:
            kwargs["content"] = body
        return args, kwargs


@lru_cache(maxsize=8)
def _client(api_key: str, api_base: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base},
        http_client=BodyAsContentClient(timeout=20),
        max_network_retries=2,
    )


def stripe_client(settings: Settings) -> stripe.StripeClient:
    """A client for the configured account; 503 with a clear message when none is configured."""
    if not settings.stripe_api_key:
        raise PaymentsNotConfigured("payments are not configured on this platform (STRIPE_API_KEY is not set)")
    return _client(settings.stripe_api_key, settings.stripe_api_base)
