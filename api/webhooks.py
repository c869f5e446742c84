"""Signed webhook delivery with retries (exponential backoff); every attempt is recorded in the store.

Each delivery is an HTTP ``POST`` of the event JSON with three headers (the scheme of the Standard
Webhooks specification):

* ``webhook-id``: the delivery id, the same on every retry (receivers deduplicate on it);
* ``webhook-timestamp``: Unix seconds of this attempt (receivers reject stale ones);
* ``webhook-signature``: ``v1,<base64 HMAC-SHA256(secret, f"{id}.{timestamp}.{body}")>`` with the
  tenant's webhook secret (the UTF-8 bytes of the whole ``whsec_...`` string are the key).

A 2xx answer delivers; anything else (or no answer within ``timeout_s``) is retried after
``backoff_base_s * 2**(attempt - 1)`` seconds (capped at ``backoff_max_s``) until ``max_attempts``.
Redirects are not followed (a 3xx is a failed attempt).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping

from api.settings import WebhookConfig
from api.store import Delivery, Store

__all__ = ["WebhookSender", "backoff_s", "sign", "verify"]

logger = logging.getLogger(__name__)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one attempt."""
    mac = hmac.new(secret.encode(), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, tolerance_s: int = 300, now: float | None = None
) -> bool:
    """Check a received webhook: signature (constant-time) and timestamp freshness.

    Parameters
    ----------
    secret : str
        The tenant's webhook secret.
    headers : mapping
        Request headers, lower-case names.
    body : bytes
        The raw request body.
    tolerance_s : int
        Largest accepted clock difference [s].
    now : float, optional
        Current Unix time (for tests).
    """
    try:
        msg_id = headers["webhook-id"]
        timestamp = int(headers["webhook-timestamp"])
        signatures = headers["webhook-signature"].split()
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, msg_id, timestamp, body)
    return any(hmac.compare_digest(expected, s) for s in signatures)


def backoff_s(attempt: int, config: WebhookConfig) -> float:
    """Delay after failed attempt ``attempt`` (1-based) before the next one [s]."""
    return float(min(config.backoff_base_s * 2.0 ** (attempt - 1), config.backoff_max_s))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class WebhookSender:
    """A thread sending due deliveries from the store's outbox.

    Parameters
    ----------
    store : Store
        Outbox and tenants (for the signing secret).
    config : WebhookConfig
        Attempts, backoff, timeout.
    """

    def __init__(self, store: Store, config: WebhookConfig) -> None:
        self._store = store
        self._config = config
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._opener = urllib.request.build_opener(_NoRedirect())

    def start(self) -> None:
        """Start the sender thread."""
        self._thread = threading.Thread(target=self._loop, name="fusionlabel-webhooks", daemon=True)
        self._thread.start()

    def nudge(self) -> None:
        """Look for due deliveries now."""
        self._wake.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop after the attempt in flight."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                for delivery in self._store.deliveries.take_due(16, hold_s=2 * self._config.timeout_s + 5):
                    if self._stop.is_set():
                        break
                    self.deliver(delivery)
                wait = self._store.deliveries.next_due_in()
            except Exception:
                logger.exception("webhook sender iteration failed")
                wait = 1.0
            self._wake.wait(1.0 if wait is None else min(max(wait, 0.01), 1.0))
            self._wake.clear()

    def deliver(self, delivery: Delivery) -> None:
        """Make one attempt and record it (with the next attempt's time, or final failure)."""
        secret = self._store.tenants.get(delivery.tenant_id).webhook_secret
        body = delivery.payload.encode()
        timestamp = int(time.time())
        request = urllib.request.Request(
            delivery.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "fusionlabel-webhooks/1",
                "webhook-id": delivery.id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(secret, delivery.id, timestamp, body),
            },
        )
        status: int | None = None
        error: str | None = None
        t0 = time.perf_counter()
        try:
            with self._opener.open(request, timeout=self._config.timeout_s) as response:
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            status, error = int(exc.code), f"HTTP {exc.code}"
        except Exception as exc:  # connection refused, timeout, DNS...
            error = f"{type(exc).__name__}: {exc}"[:500]
        duration = (time.perf_counter() - t0) * 1e3
        attempt = delivery.attempts + 1
        ok = status is not None and 200 <= status < 300
        retry_at = (
            None
            if ok or attempt >= self._config.max_attempts
            else time.time() + backoff_s(attempt, self._config)
        )
        state = self._store.deliveries.record(delivery, status, error, duration, retry_at)
        logger.info("webhook %s attempt %d -> %s (%s)", delivery.id, attempt, status or error, state.value)
