"""Tenants and their API keys; keys are stored only as HMAC-SHA256 digests keyed by a server pepper."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
import uuid
from pathlib import Path

from api.store.db import Database
from api.store.records import ConflictError, NotFoundError, Tenant

__all__ = ["KEY_PREFIX", "Tenants", "load_pepper"]

KEY_PREFIX = "flk_"
"""Every API key starts with this, so leaked keys are easy to recognise."""


def load_pepper(configured: str | None, state_dir: Path) -> bytes:
    """The server pepper: ``configured`` when set, else ``state_dir/pepper`` (created 0600 on first use)."""
    if configured:
        return configured.encode()
    path = state_dir / "pepper"
    state_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
        f.flush()
        os.fsync(f.fileno())
    return path.read_bytes().strip()


class Tenants:
    """Tenant and API-key operations on the store."""

    def __init__(self, db: Database, pepper: bytes, cache_s: float = 5.0) -> None:
        self._db = db
        self._pepper = pepper
        self._cache_s = cache_s
        self._cache: dict[str, tuple[float, str]] = {}

    def _digest(self, key: str) -> str:
        return hmac.new(self._pepper, key.encode(), hashlib.sha256).hexdigest()

    def create(self, name: str) -> Tenant:
        """Create a tenant with a fresh webhook signing secret."""
        tenant = Tenant(f"ten_{uuid.uuid4().hex}", name, "whsec_" + secrets.token_urlsafe(32), time.time())
        with self._db.write() as conn:
            if conn.execute("SELECT 1 FROM tenants WHERE name = ?", (name,)).fetchone():
                raise ConflictError(f"tenant name {name!r} is taken")
            conn.execute(
                "INSERT INTO tenants (id, name, webhook_secret, created_at) VALUES (?, ?, ?, ?)",
                (tenant.id, tenant.name, tenant.webhook_secret, tenant.created_at),
            )
        return tenant

    def get(self, tenant_id: str) -> Tenant:
        """The tenant with ``tenant_id``."""
        row = self._db.connection().execute("SELECT * FROM tenants WHERE id = ?", (tenant_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"tenant {tenant_id!r} not found")
        return Tenant(row["id"], row["name"], row["webhook_secret"], row["created_at"])

    def by_name(self, name: str) -> Tenant:
        """The tenant called ``name``."""
        row = self._db.connection().execute("SELECT id FROM tenants WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFoundError(f"tenant {name!r} not found")
        return self.get(row["id"])

    def create_key(self, tenant_id: str) -> str:
        """A new API key for ``tenant_id``; the plain key is returned once and never stored."""
        self.get(tenant_id)
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO api_keys (key_hash, key_prefix, tenant_id, created_at) VALUES (?, ?, ?, ?)",
                (self._digest(key), key[:10], tenant_id, time.time()),
            )
        return key

    def revoke_key(self, key: str) -> None:
        """Revoke a key (requests with it get 401 within ``cache_s``; at once in this process)."""
        digest = self._digest(key)
        with self._db.write() as conn:
            conn.execute("UPDATE api_keys SET revoked = 1 WHERE key_hash = ?", (digest,))
        self._cache.pop(digest, None)

    def tenant_for_key(self, key: str) -> str | None:
        """The tenant id a valid, unrevoked key belongs to, else None (lookup by digest, not by key).

        Valid keys are remembered for ``cache_s`` seconds by digest (never by the key itself), so a
        busy UI does not cost a database read per request.
        """
        if not key.startswith(KEY_PREFIX) or len(key) > 128:
            return None
        digest = self._digest(key)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        row = (
            self._db.connection()
            .execute("SELECT tenant_id FROM api_keys WHERE key_hash = ? AND revoked = 0", (digest,))
            .fetchone()
        )
        if row is None:
            self._cache.pop(digest, None)
            return None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now + self._cache_s, str(row["tenant_id"]))
        return str(row["tenant_id"])
