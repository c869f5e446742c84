"""Load benchmark of the service on loopback: concurrent clients against interpolate, validate and project.

Starts ``python -m api.cli serve`` (uvicorn on 127.0.0.1, a free port; ``--processes`` server
processes, by default what ``serve`` picks: one per core, at most 4) on a fresh data root with a
simulated log, warms every endpoint up (JIT), then runs a closed loop per endpoint: ``--clients``
concurrent clients (asyncio + one raw keep-alive HTTP/1.1 connection each), each sending its next
request when the previous answer arrives, for ``--seconds`` (``--rate``: paced instead, an open loop
of that many requests per second per client). Reports req/s, p50/p99/max latency, the error rate (any
non-2xx or transport error), server and client CPU per request and the load average before and after,
how many connections each server process holds (sampled after 1 s) with its CPU share, and the
machine's CPU split (user/system/idle/steal, and the cores taken by other jobs), prints a table and
writes JSON.

Usage: ``python -m benchmarks.bench_api --clients 16 --seconds 10 --out benchmarks/results/api.json``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server_cpu_s(pid: int) -> list[float]:
    """CPU seconds of the server process and of each of its worker processes (in that order)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(c) for c in children.read_text().split()] if children.exists() else []
    return [_cpu_s(pid), *(_cpu_s(k) for k in kids)]


def _cpu_times() -> np.ndarray:
    """Machine-wide CPU time so far [s]: user+nice, system+irq+softirq, idle+iowait, steal."""
    f = np.array(Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9], dtype=np.float64)
    busy_user, busy_sys = f[0] + f[1], f[2] + f[5] + f[6]
    return np.array([busy_user, busy_sys, f[3] + f[4], f[7]]) / os.sysconf("SC_CLK_TCK")


def _server_pids(pid: int) -> list[int]:
    """The server process and its worker processes (in that order)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [pid, *(int(c) for c in children.read_text().split())] if children.exists() else [pid]


def _connections_per_process(pids: list[int], port: int) -> list[int]:
    """Established client connections to ``port`` held by each of ``pids`` (Linux ``/proc``)."""
    inodes = set()
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = row.split()
        if int(f[1].rsplit(":", 1)[1], 16) == port and f[3] == "01":  # local port, ESTABLISHED
            inodes.add(f[9])
    counts = []
    for pid in pids:
        n = 0
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                link = os.readlink(fd)
            except OSError:
                continue
            n += link.startswith("socket:[") and link[8:-1] in inodes
        counts.append(n)
    return counts


def _payloads(log_id: str, sim: Path) -> dict[str, dict[str, Any]]:
    """One realistic request per endpoint: a UI dragging a keyframe of a 20 s track."""
    from engine.io.annotations_json import annotations_to_dict
    from engine.sim import read_ground_truth

    truth = read_ground_truth(sim / "ground_truth").annotations
    track = max(truth.tracks, key=len)
    t = track.timestamps_us
    kf = list(range(0, len(track), 3)) + ([len(track) - 1] if (len(track) - 1) % 3 else [])
    return {
        "interpolate": {
            "keyframes": {
                "timestamps_us": t[kf].tolist(),
                "centers": track.centers[kf].tolist(),
                "sizes": track.sizes[kf].tolist(),
                "rotations_wxyz": track.rotations_wxyz[kf].tolist(),
            },
            "timestamps_us": np.linspace(t[0], t[-1], 50).astype(np.int64).tolist(),
        },
        "validate": {
            "log_id": log_id,
            "annotations": {"tracks": annotations_to_dict(truth)["tracks"][:4]},
            "rules": ["schema", "temporal"],
        },
        "project": {
            "log_id": log_id,
            "cuboids": {
                "timestamps_us": [int(t[2])] * 4,
                "centers": [tr.centers[0].tolist() for tr in truth.tracks[:4]],
                "sizes": [tr.sizes[0].tolist() for tr in truth.tracks[:4]],
                "rotations_wxyz": [tr.rotations_wxyz[0].tolist() for tr in truth.tracks[:4]],
            },
        },
    }


class _Conn:
    """A minimal keep-alive HTTP/1.1 client (the load generator must cost far less CPU than the server)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, request: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status


def _request(path: str, port: int, headers: dict[str, str], content: bytes) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(content)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + content


async def _load(
    port: int,
    path: str,
    headers: dict[str, str],
    body: dict[str, Any],
    clients: int,
    seconds: float,
    rate_hz: float,
) -> dict[str, Any]:
    """``clients`` concurrent clients; each sends back to back (``rate_hz`` 0) or paced at ``rate_hz``."""
    request = _request(path, port, headers, json.dumps(body).encode())
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter()
    deadline = start + seconds

    async def one(k: int) -> None:
        nonlocal errors
        conn = _Conn("127.0.0.1", port)
        period = 1.0 / rate_hz if rate_hz > 0 else 0.0
        next_at = start + period * k / clients  # spread the clients' phases
        while True:
            if period:
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                next_at += period
            t0 = time.perf_counter()
            if t0 >= deadline:
                return
            try:
                ok = 200 <= await conn.post(request) < 300
            except (OSError, asyncio.IncompleteReadError, ValueError):
                ok, conn = False, _Conn("127.0.0.1", port)
            latencies.append(time.perf_counter() - (next_at - period if period else t0))
            errors += 0 if ok else 1

    await asyncio.gather(*(one(k) for k in range(clients)))
    wall = time.perf_counter() - start
    lat = np.array(latencies) * 1e3
    return {
        "mode": f"paced {rate_hz:g} req/s per client" if rate_hz > 0 else "closed loop (back to back)",
        "requests": int(lat.size),
        "req_per_s": float(lat.size / wall),
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
        "max_ms": float(lat.max()),
        "error_rate": errors / max(lat.size, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--endpoints", default="interpolate,validate,project")
    parser.add_argument("--rate", type=float, default=0.0, help="req/s per client (0: closed loop)")
    parser.add_argument(
        "--processes", type=int, default=None, help="uvicorn worker processes (default: serve's choice)"
    )
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "api.json")
    args = parser.parse_args()

    from api.cli import create_key, default_processes
    from benchmarks.common import machine_info
    from engine.sim import write_simulation

    processes = default_processes() if args.processes is None else args.processes

    tmp = Path(tempfile.mkdtemp(prefix="fusionlabel-bench-api-"))
    root = tmp / "data"
    sim = tmp / "sim"
    write_simulation(sim, "tiny", 20.0, 7)
    shutil.copytree(sim / "log", root / "logs" / "sim")
    port = _free_port()
    env = {**os.environ, "FUSIONLABEL_DATA_ROOT": str(root), "PYTHONPATH": str(REPO)}
    server_log = (tmp / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api.cli",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--processes",
            str(processes),
        ],
        cwd=REPO,
        env=env,
        stdout=server_log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(base + "/health", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        _, key, _ = create_key(root, "bench")
        headers = {"X-API-Key": key, "Content-Type": "application/json"}
        log_id = httpx.post(base + "/v1/logs", json={"path": "sim"}, headers=headers, timeout=60).json()["id"]
        payloads = _payloads(log_id, sim)
        results: dict[str, Any] = {}
        for name in args.endpoints.split(","):
            for _ in range(3):  # warm-up: JIT compilation, caches
                r = httpx.post(f"{base}/v1/{name}", json=payloads[name], headers=headers, timeout=300)
                r.raise_for_status()
            load0 = os.getloadavg()[0]
            cpu0, own0, machine0 = _server_cpu_s(proc.pid), time.process_time(), _cpu_times()
            path = f"/v1/{name}"
            spread: list[int] = []
            sampler = threading.Timer(
                min(1.0, args.seconds / 2),
                lambda out=spread: out.extend(_connections_per_process(_server_pids(proc.pid), port)),
            )
            sampler.start()
            res = asyncio.run(
                _load(port, path, headers, payloads[name], args.clients, args.seconds, args.rate)
            )
            used = [b - a for a, b in zip(cpu0, _server_cpu_s(proc.pid), strict=False)]
            res["server_cpu_ms_per_req"] = sum(used) * 1e3 / max(res["requests"], 1)
            sampler.join()
            machine = _cpu_times() - machine0
            res["machine_cpu_share"] = dict(
                zip(
                    ("user", "system", "idle", "steal"),
                    np.round(machine / machine.sum(), 3).tolist(),
                    strict=True,
                )
            )
            # CPU the machine spent on anything but this server and this client (other jobs), in cores
            own_s = time.process_time() - own0
            wall = res["requests"] / max(res["req_per_s"], 1e-9)
            res["other_cpu_cores"] = round(max(0.0, (machine[0] + machine[1] - sum(used) - own_s) / wall), 2)
            res["connections_per_process"] = spread
            res["server_cpu_share"] = [round(u / max(sum(used), 1e-9), 3) for u in used]
            res["client_cpu_ms_per_req"] = (time.process_time() - own0) * 1e3 / max(res["requests"], 1)
            res["load_avg_1min"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
            results[name] = res
            print(
                f"{name:12s} clients={args.clients} {res['req_per_s']:8.1f} req/s  "
                f"p50 {res['p50_ms']:6.2f} ms  p99 {res['p99_ms']:6.2f} ms  max {res['max_ms']:7.2f} ms  "
                f"errors {res['error_rate']:.3%}  cpu/req server {res['server_cpu_ms_per_req']:.2f} ms "
                f"client {res['client_cpu_ms_per_req']:.2f} ms  load {load0:.2f}->{os.getloadavg()[0]:.2f}  "
                f"conns/process {spread} cpu share {res['server_cpu_share']}  "
                f"machine {res['machine_cpu_share']} other jobs {res['other_cpu_cores']} cores"
            )
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(30)
        server_log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    record = {
        "clients": args.clients,
        "seconds": args.seconds,
        "server": f"uvicorn, {processes} process(es), httptools + uvloop, 1 job thread each, 127.0.0.1",
        "processes": processes,
        "rate_per_client": args.rate,
        "client": "asyncio raw HTTP/1.1 keep-alive connections, one per client",
        "machine": {**machine_info(gpu=False), "platform": platform.platform()},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
