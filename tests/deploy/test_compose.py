"""docker-compose.yml, the Dockerfile and deploy/users.acl agree with each other and the code.

No Docker engine runs here, so this reads the files: services, images, users,
passwords, variables, ports, volumes, health checks and commands.
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import shlex
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import click
import pytest
from ulid import ULID
import yaml

from pigallery.cli import main
from pigallery.config import Settings
from tests.deploy.stack import ACL_FILE, COMPOSE_FILE, DEV_PASSWORDS, DOCKERFILE, DOCKERIGNORE, PREFIX, ROOT
from tests.helpers import REDIS_STACK_IMAGE

APP_SERVICES = ("index", "web", "capture-sim")
# Which ACL user each app service logs in as: least privilege for each job.
SERVICE_USER = {"index": "admin", "web": "web", "capture-sim": "capture"}
DEFAULT = re.compile(r"\$\{(\w+):-([^}]*)\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def acl_users() -> dict[str, list[str]]:
    """Parse deploy/users.acl into user -> rules (a selector in parentheses is one rule)."""
    users = {}
    for line in ACL_FILE.read_text().splitlines():
        keyword, name, rules = line.split(maxsplit=2)
        assert keyword == "user", line
        users[name] = re.findall(r"\([^)]*\)|\S+", rules)
    return users


def expand(value: str, env: dict | None = None) -> str:
    """Resolve ${VAR:-default} as compose does, from `env` or else the default."""
    return DEFAULT.sub(lambda m: (env or {}).get(m.group(1)) or m.group(2), value)


def dockerfile() -> dict[str, list[str]]:
    """Return instruction -> its arguments, lines joined at backslashes."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            instruction, _, rest = line.strip().partition(" ")
            out.setdefault(instruction.upper(), []).append(rest.strip())
    return out


def exec_form(value: str) -> list[str]:
    """Parse a Dockerfile exec form (JSON array), dropping HEALTHCHECK options before CMD."""
    return json.loads(value[value.index("["):])


def test_services_and_images(services):
    assert set(services) == {"redis", *APP_SERVICES, "redisinsight"}
    assert services["redis"]["image"] == REDIS_STACK_IMAGE
    for name in APP_SERVICES:
        assert services[name]["build"] == "."
        assert services[name]["image"] == services["web"]["image"]
    assert services["redisinsight"]["profiles"] == ["insight"]  # optional, off by default


def test_acl_file_users_and_dev_passwords():
    users = acl_users()
    assert set(users) == {"default", "admin", "web", "capture"}
    assert "off" in users["default"] and not any(r.startswith(("#", ">")) for r in users["default"])
    for name, password in DEV_PASSWORDS.items():
        assert "on" in users[name]
        hashes = [r[1:] for r in users[name] if r.startswith("#")]
        assert hashes == [hashlib.sha256(password.encode()).hexdigest()], name
        assert not any(r.startswith(">") for r in users[name]), "no cleartext password in the repo"


def test_acl_patterns_match_the_code():
    from models import Capture, events

    users = acl_users()
    keys = f"~{PREFIX}:{Capture._meta.model_key_prefix}:*"
    for name in ("web", "capture"):
        assert "-@all" in users[name] and f"&{PREFIX}:captures:new" in users[name]
    assert keys in users["web"]
    # The capture user may write capture ids only: the keys the model makes, nothing else under the prefix.
    capture_keys = next(w[1:] for w in users["capture"] if w.startswith(f"~{PREFIX}:"))
    for pk in (str(ULID()), "0" * 26, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"):  # redis-om's ids are ULIDs
        assert fnmatch.fnmatchcase(f"{PREFIX}:{Capture._meta.model_key_prefix}:{pk}", capture_keys)
    for wrong in ("x", "<script>", "0" * 25, "0" * 27, "u" * 26):
        assert not fnmatch.fnmatchcase(f"{PREFIX}:{Capture._meta.model_key_prefix}:{wrong}", capture_keys)
    # The channel the agent publishes on and /api/events listens to, under the same prefix.
    saved = Capture._meta.global_key_prefix
    Capture._meta.global_key_prefix = PREFIX
    try:
        assert f"&{events.channel()}" in users["capture"]
    finally:
        Capture._meta.global_key_prefix = saved
    # The rollups' keys (models.rollups.base()): a selector of each user's, for the count scripts.
    saved = Capture._meta.global_key_prefix
    Capture._meta.global_key_prefix = PREFIX
    try:
        from models import rollups

        rollup_keys = f"~{rollups.base()}*"
    finally:
        Capture._meta.global_key_prefix = saved
    for name in ("web", "capture"):
        selectors = [rule for rule in users[name] if rule.startswith(f"({rollup_keys} ")]
        assert len(selectors) == 1, name
        assert {"+ts.add", "+incrby", "+hincrby", "+sadd", "+zadd", "+zrem", "+hdel"} <= set(selectors[0][1:-1].split())
        assert {"+evalsha", "+script|load", "+script|exists"} <= set(users[name]), name
    # RediSearch checks the index name against the key patterns (FT.SEARCH, FT.AGGREGATE).
    index = f"{PREFIX}:{Capture._meta.model_key_prefix}:index"
    assert fnmatch.fnmatchcase(index, keys[1:])


def test_app_services_log_in_as_their_acl_user(services):
    users = acl_users()
    for name, user in SERVICE_USER.items():
        env = services[name]["environment"]
        url = urlsplit(expand(env["REDIS_URL"]))
        assert url.scheme == "redis" and url.hostname == "redis" and url.port == 6379
        assert url.username == user and user in users
        # The compose default is the dev password the ACL file has the hash of.
        assert url.password == DEV_PASSWORDS[user]
        # And the variable `pigallery redis passwords` writes to .env overrides it.
        assert urlsplit(expand(env["REDIS_URL"], {f"PIGALLERY_{user.upper()}_PASSWORD": "s3cret"})).password == "s3cret"
        assert env["PIGALLERY_KEY_PREFIX"] == PREFIX


def test_app_environment_names_are_read_by_settings(services):
    source = (ROOT / "pigallery" / "config.py").read_text()
    for name in APP_SERVICES:
        for var in services[name]["environment"]:
            assert f'"{var}"' in source, f"{name}: {var} is not read by pigallery/config.py"


def test_redis_persistence_acl_and_healthcheck(compose, services):
    redis = services["redis"]
    args = shlex.split(redis["environment"]["REDIS_ARGS"])
    assert args[args.index("--appendonly") + 1] == "yes"
    aclfile = args[args.index("--aclfile") + 1]
    mounts = {target: source for source, target, *_ in (expand(v).split(":") for v in redis["volumes"])}
    assert mounts["/data"] in compose["volumes"]  # the AOF lives on a named volume
    assert (ROOT / mounts[aclfile]).resolve() == ACL_FILE
    check = " ".join(redis["healthcheck"]["test"])
    user = re.search(r"--user (\w+)", check).group(1)
    assert "ping" in check and "+ping" in acl_users()[user]
    assert expand(redis["environment"]["REDISCLI_AUTH"]) == DEV_PASSWORDS[user]
    assert expand(redis["ports"][0]) == "127.0.0.1:6379:6379"


def test_named_volumes_are_declared(compose, services):
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith(("$", ".", "/")):
                assert source in compose["volumes"]


def test_web_port_healthcheck_and_command():
    from search_web import create_app

    docker = dockerfile()
    assert docker["FROM"] == ["python:3.11-slim"]
    assert docker["EXPOSE"] == ["8000"]
    cmd = exec_form(docker["CMD"][0])
    assert cmd[0] == "gunicorn" and cmd[cmd.index("--bind") + 1] == "0.0.0.0:8000"
    module, _, call = cmd[-1].partition(":")
    assert (module, call) == ("pigallery.wsgi", "create_app()")
    app = create_app(test_config={"TESTING": True, "REDIS_URL": "redis://127.0.0.1:1/0"})
    check = " ".join(exec_form(docker["HEALTHCHECK"][0]))
    path = re.search(r"http://127\.0\.0\.1:8000(/\w+)", check).group(1)
    assert path in {rule.rule for rule in app.url_map.iter_rules()}


def test_web_service_publishes_the_image_port(services):
    assert expand(services["web"]["ports"][0]) == "127.0.0.1:8000:8000"
    assert "healthcheck" not in services["web"]  # the image's HEALTHCHECK applies


def test_image_installs_what_the_services_run():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["pigallery"] == "pigallery.cli:main"
    install = next(r for r in dockerfile()["RUN"] if "pip install" in r)
    extras = re.search(r'\.\[([\w,]+)\]', install).group(1).split(",")
    needed = " ".join(d for e in extras for d in project["optional-dependencies"][e])
    assert "gunicorn" in needed and "Flask" in needed


@pytest.mark.parametrize("service", ["index", "capture-sim"])
def test_service_commands_parse(services, service):
    # The command line must resolve to a pigallery subcommand and its options must parse.
    argv = services[service]["command"]
    assert argv[0] == "pigallery"
    command, args = main, list(argv[1:])
    ctx = click.Context(main, info_name="pigallery", obj=Settings())
    while isinstance(command, click.Group):
        name, command, args = command.resolve_command(ctx, args)
        ctx = click.Context(command, info_name=name, parent=ctx)
    command.make_context(name, args, parent=ctx.parent)  # a UsageError if an option is wrong


def test_capture_sim_spools_on_a_volume(services):
    sim = services["capture-sim"]
    docker_env = " ".join(dockerfile()["ENV"])
    data_dir = re.search(r"PIGALLERY_DATA_DIR=(\S+)", docker_env).group(1)
    spool = Settings(data_dir=Path(data_dir)).spool_path
    mounts = {v.split(":")[1]: v.split(":")[0] for v in sim["volumes"]}
    assert any(spool.is_relative_to(target) for target in mounts)
    assert sim["healthcheck"]["test"] == ["CMD", "pigallery", "capture", "--status"]  # exits 3 unless Redis takes captures


def test_build_context_keeps_what_the_build_needs():
    ignored = [p.strip() for p in DOCKERIGNORE.read_text().splitlines() if p.strip() and not p.startswith("#")]
    assert ".env" in ignored and ".venv" in ignored and ".git" in ignored
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    needed = ["pyproject.toml", project["project"]["readme"]]
    needed += [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    for path in needed:
        assert not any(fnmatch.fnmatch(path, pattern) for pattern in ignored), path
        assert (ROOT / path).exists(), f"{path} is needed by `pip install .` in the Dockerfile"
