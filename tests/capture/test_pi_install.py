"""What the Pi install relies on: the systemd unit agrees with the code, and a Pi without Flask gets help."""
from __future__ import annotations

import re

import configparser
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pigallery import cli
from pigallery.config import Settings
from tests.helpers import ROOT

UNIT = ROOT / "deploy" / "pigallery-capture.service"


@pytest.fixture(scope="module")
def service() -> dict:
    unit = configparser.ConfigParser(interpolation=None)
    unit.optionxform = str  # systemd keys are case-sensitive
    unit.read_string(UNIT.read_text())
    return dict(unit["Service"])


def test_unit_keeps_the_spool_in_its_state_directory(service):
    state = Path("/var/lib") / service["StateDirectory"]
    env = dict(pair.split("=", 1) for pair in shlex.split(service["Environment"]))
    assert Path(env["PIGALLERY_DATA_DIR"]) == state == Path(service["WorkingDirectory"])
    # ProtectSystem=strict makes everything else read-only: the spool must be under a writable path.
    assert service["ProtectSystem"] == "strict"
    assert Settings(data_dir=state).spool_path.is_relative_to(Path(service["ReadWritePaths"]))
    assert service["User"] == service["Group"] == "pigallery"
    assert service["EnvironmentFile"] == "/etc/pigallery/capture.env"


@pytest.mark.parametrize("capture_args", ["", "--interval 60 --motion --gpio 17", "--gpio 4 --gpio-active high --autofocus cycle"])
def test_unit_command_line_parses(service, capture_args):
    # systemd splits an unquoted $VAR into words; the result must be a valid `pigallery capture`.
    argv = [arg for word in shlex.split(service["ExecStart"])
            for arg in (capture_args.split() if word == "$PIGALLERY_CAPTURE_ARGS" else [word])]
    assert argv[0] == "/opt/pigallery/.venv/bin/pigallery" and argv[1] == "capture"
    ctx = click.Context(cli.main, info_name="pigallery", obj=Settings())
    name, command, args = cli.main.resolve_command(ctx, argv[1:])
    command.make_context(name, args, parent=ctx)  # a UsageError if an option is wrong


def test_missing_extra_keeps_help_working(monkeypatch):
    # A Pi installs `.[pi]` only: `serve` cannot import Flask there.
    monkeypatch.setitem(cli.COMMANDS, "serve", "no_such_package_for_pigallery.cli:serve")
    runner = CliRunner()
    helped = runner.invoke(cli.main, ["--help"])
    assert helped.exit_code == 0 and "capture" in helped.output
    assert re.search(r"serve +Not installed: needs no_such_package_for_pigallery\.", helped.output)
    result = runner.invoke(cli.main, ["serve", "--port", "5000"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "`pigallery serve` needs a package that is not installed (no_such_package_for_pigallery)" in result.output
