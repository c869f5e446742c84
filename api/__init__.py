"""fusionlabel's HTTP service (FastAPI + uvicorn): engine calls for annotation UIs and durable jobs.

Layout: :mod:`api.main` (``create_app``), :mod:`api.settings`, :mod:`api.deps`, :mod:`api.routes`
(one router per resource), :mod:`api.schemas` (``XCreate`` requests / ``XPublic`` responses),
:mod:`api.errors` (RFC 9457 problems), :mod:`api.middleware` (body limit, strict JSON),
:mod:`api.store` (SQLite/WAL: tenants, hashed keys, logs, jobs, webhook outbox), :mod:`api.worker`
(job pool with leases), :mod:`api.webhooks` (signed deliveries), :mod:`api.cli` (``serve``).
``api`` imports only ``engine`` (mostly :mod:`engine.service`), never ``tracking``/``kernels`` directly.
"""
