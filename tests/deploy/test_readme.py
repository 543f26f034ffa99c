"""The README's Docker commands, users and image agree with docker-compose.yml and deploy/users.acl."""
from __future__ import annotations

import re
import shlex

import pytest
import yaml

from tests.deploy.stack import ACL_FILE, COMPOSE_FILE, ROOT
from tests.helpers import REDIS_STACK_IMAGE

README = ROOT / "README.md"
# docker compose options that take a value: before the subcommand, and of run/exec.
GLOBAL_VALUE_OPTIONS = {"--profile", "-f", "--file", "-p", "--project-name"}
RUN_VALUE_OPTIONS = {"-v", "--volume", "-w", "--workdir", "--user", "-u", "-e", "--env", "--entrypoint", "--name"}
ONE_SERVICE = {"run", "exec"}  # then the command to run inside
MANY_SERVICES = {"up", "logs", "stop", "start", "restart", "build", "ps", "pull", "down"}


def compose_commands(text: str) -> list[list[str]]:
    """Every `docker compose ...` line in the README's code blocks, continuation lines joined."""
    blocks = re.findall(r"```(?:sh|bash|console|shell)?\n(.*?)```", text, re.S)
    commands = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith("docker compose"):
                commands.append(shlex.split(line)[2:])
    return commands


def services_named(argv: list[str]) -> tuple[str, list[str]]:
    """Return the subcommand and the services a compose command line names."""
    args = iter(argv)
    sub, named = None, []
    for arg in args:
        if arg in (GLOBAL_VALUE_OPTIONS if sub is None else RUN_VALUE_OPTIONS if sub in ONE_SERVICE else ()):
            next(args, None)
        elif arg.startswith("-"):
            continue
        elif sub is None:
            sub = arg
        else:
            named.append(arg)
            if sub in ONE_SERVICE:
                break
    return sub, named if sub in ONE_SERVICE | MANY_SERVICES else []


@pytest.fixture(scope="module")
def readme() -> str:
    if not README.exists():
        pytest.fail("README.md is missing")
    return README.read_text()


def test_readme_compose_commands_name_real_services(readme):
    services = set(yaml.safe_load(COMPOSE_FILE.read_text())["services"])
    commands = compose_commands(readme)
    assert len(commands) >= 8, "the README shows how to run, inspect and stop the stack"
    used = set()
    for argv in commands:
        sub, named = services_named(argv)
        assert sub, argv
        assert set(named) <= services, f"docker compose {' '.join(argv)}: unknown service"
        used.update(named)
    assert {"web", "index", "capture-sim", "redisinsight"} <= used


def test_readme_names_every_acl_user_and_the_image(readme):
    for line in ACL_FILE.read_text().splitlines():
        assert f"`{line.split()[1]}`" in readme
    assert REDIS_STACK_IMAGE in readme
    assert "pigallery redis passwords" in readme
    assert "deploy/pigallery-capture.service" in readme


@pytest.mark.parametrize("line, expected", [
    (["up", "-d", "--build"], ("up", [])),
    (["--profile", "insight", "up", "-d", "redisinsight"], ("up", ["redisinsight"])),
    (["run", "--rm", "--user", "1:1", "-v", "a:/w", "web", "pigallery", "index"], ("run", ["web"])),
    (["exec", "redis", "redis-cli", "--user", "admin"], ("exec", ["redis"])),
    (["down", "-v"], ("down", [])),
])
def test_services_named(line, expected):
    assert services_named(line) == expected
