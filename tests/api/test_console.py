from typer.testing import CliRunner

from api.console import app


def test_console_script_has_engine_and_service_commands():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("sim", "info", "demo", "prelabel", "convert", "serve", "create-key"):
        assert command in result.output


def test_serve_help_names_the_loopback_default():
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0 and "127.0.0.1" in result.output
