"""Helpers of the service tests: a webhook receiver, a real uvicorn server in a subprocess, job polling."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from api.webhooks import verify

REPO = Path(__file__).resolve().parents[2]


def wait_job(client: TestClient, job_id: str, headers: dict[str, str], timeout_s: float = 20.0) -> dict:
    """Poll a job until it reaches a terminal state (its public JSON); AssertionError on timeout."""
    deadline = time.monotonic() + timeout_s
    job: dict = {}
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}", headers=headers).json()
        if job["state"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not finish: {job}")


@dataclass(frozen=True)
class TenantKey:
    """A tenant with one API key and its webhook secret."""

    id: str
    key: str
    secret: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key}


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that answers 500 to the first ``fail_first`` attempts of each message.

    Every request is recorded with whether its signature verified against ``secret``.
    """

    def __init__(self, secret: str, fail_first: int = 2) -> None:
        self.secret = secret
        self.fail_first = fail_first
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver.lock:
                    seen = sum(1 for r in receiver.requests if r["id"] == headers.get("webhook-id"))
                    receiver.requests.append(
                        {
                            "id": headers.get("webhook-id"),
                            "verified": verify(receiver.secret, headers, body),
                            "tampered_verified": verify(receiver.secret, headers, body + b" "),
                            "body": json.loads(body),
                            "at": time.time(),
                        }
                    )
                self.send_response(500 if seen < receiver.fail_first else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def delivered(self) -> set[str]:
        """Message ids that got a 2xx."""
        with self.lock:
            counts: dict[str, int] = {}
            for r in self.requests:
                counts[r["id"]] = counts.get(r["id"], 0) + 1
            return {k for k, n in counts.items() if n > self.fail_first}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """``python -m api.cli serve`` on 127.0.0.1 at a free port; stopped (or killed) by its PID."""

    def __init__(self, data_root: Path, env: dict[str, str] | None = None, processes: int = 1) -> None:
        self.data_root = data_root
        self.processes = processes
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO / "tests" / "api"), str(REPO)]),
            "FUSIONLABEL_JOBS__PRELABELER": "api_fakes:FakePrelabeler",
            "FUSIONLABEL_JOBS__LEASE_S": "1.5",
            "FUSIONLABEL_JOBS__POLL_S": "0.05",
            "FUSIONLABEL_WEBHOOKS__BACKOFF_BASE_S": "0.05",
            "FUSIONLABEL_WEBHOOKS__BACKOFF_MAX_S": "0.2",
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 30.0) -> ServerProcess:
        cmd = [
            sys.executable,
            "-m",
            "api.cli",
            "serve",
            "--port",
            str(self.port),
            "--data-root",
            str(self.data_root),
            "--processes",
            str(self.processes),  # 1 by default: SIGKILL of the PID is a crash of the whole server
            "--no-warmup",  # the suite compiles the kernels itself; restarts should not compete with it
        ]
        self.data_root.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_root.parent / f"server-{self.port}.log"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.log_path.read_text(errors="replace")
                raise RuntimeError(f"server exited with {self.proc.returncode}: {err[-2000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        self.kill()
        raise RuntimeError("server did not become healthy")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers run (a crash)."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
