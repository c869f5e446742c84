from typer.testing import CliRunner

from api.console import app


def test_console_script_has_engine_and_service_commands():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("sim", "info", "demo", "prelabel", "convert", "serve", "create-key", "warmup"):
        assert command in result.output


def test_serve_help_names_the_loopback_default():
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0 and "127.0.0.1" in result.output


def test_serve_warms_up_unless_told_not_to():
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert "--no-warmup" in " ".join(result.output.split())


def test_warm_up_thread_logs_each_step_and_survives_a_failure(monkeypatch, caplog):
    import logging

    import engine.service.warmup as warmup
    from api.cli import _start_warm_up

    monkeypatch.setattr(warmup, "warm_up", lambda: {"interpolate": 0.25})
    with caplog.at_level(logging.INFO, logger="api.cli"):
        _start_warm_up().join(10)
    assert "kernels warm: interpolate 0.2 s" in caplog.text

    def broken() -> dict[str, float]:
        raise RuntimeError("no compiler")

    monkeypatch.setattr(warmup, "warm_up", broken)
    with caplog.at_level(logging.INFO, logger="api.cli"):
        _start_warm_up().join(10)
    assert "kernel warm-up failed" in caplog.text


def test_warmup_command_runs_every_step():
    from engine.service.warmup import WARM_UP_STEPS

    result = CliRunner().invoke(app, ["warmup"])
    assert result.exit_code == 0, result.output
    for name, _ in WARM_UP_STEPS:
        assert name.split(" (")[0] in result.output
