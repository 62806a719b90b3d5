"""Each pytest process that runs integration tests gets a host of its own: its own network
namespace (its own 127.0.0.1, where Asterisk listens on 5060 and 5038 and the service on 4573)
and its own Asterisk root (an overlay on the sandbox, built once and shared read-only). So
pytest-xdist workers run integration tests side by side without meeting, and a second test run
on the machine does not disturb the first.

The machine's PostgreSQL is reached through its Unix socket, which every namespace shares.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

#: setns(2)'s flag for a network namespace (linux/sched.h).
CLONE_NEWNET = 0x40000000
#: Names of the namespaces and folders made here: a prefix and the owning process's id.
PREFIX = "hltest"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner(name: str) -> int | None:
    """The process id in a name made here (``hltest1234``, or ``hltest1234-router`` for a
    namespace a test adds beside its own), else None."""
    digits = name.removeprefix(PREFIX).split("-", 1)[0]
    return int(digits) if name.startswith(PREFIX) and digits.isdigit() else None


def remove_namespace(name: str) -> None:
    """Kill what runs in the namespace (an Asterisk, SIPp, a service) and delete it."""
    pids = _ip("netns", "pids", name, check=False).stdout.split()
    for pid in pids:
        if pid != str(os.getpid()):  # this process may be in it (its main thread is)
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
    _ip("netns", "delete", name, check=False)


def sweep(cache: Path) -> None:
    """Remove the namespaces and overlays left by test runs that died."""
    for line in _ip("netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        owner = _owner(name)
        if owner is not None and not _alive(owner):
            remove_namespace(name)
    hosts = cache / "hosts"
    if hosts.is_dir():
        for folder in hosts.iterdir():
            owner = _owner(folder.name)
            if owner is not None and not _alive(owner):
                remove_overlay(folder)


def enter_namespace(name: str) -> None:
    """Make a network namespace with loopback up and move this thread into it: every socket
    and child process from now on lives there."""
    remove_namespace(name)
    _ip("netns", "add", name)
    _ip("-n", name, "link", "set", "lo", "up")
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(fd, CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"setns({name}): {os.strerror(error)}")
    finally:
        os.close(fd)


def mount_overlay(base: Path, folder: Path) -> Path:
    """``folder/root``: ``base`` seen through an overlay whose changes stay in ``folder``."""
    remove_overlay(folder)
    upper, work, root = folder / "upper", folder / "work", folder / "root"
    for path in (upper, work, root):
        path.mkdir(parents=True)
    subprocess.run(
        [
            "mount",
            "-t",
            "overlay",
            "overlay",
            "-o",
            f"lowerdir={base},upperdir={upper},workdir={work}",
            str(root),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return root


def remove_overlay(folder: Path) -> None:
    root = folder / "root"
    if root.is_dir() and os.path.ismount(root):
        subprocess.run(["umount", "-l", str(root)], check=False, capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """One process at a time (building the shared sandbox)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class Host:
    """This process's own host: a network namespace and an Asterisk root."""

    def __init__(self, cache: Path) -> None:
        self.name = f"{PREFIX}{os.getpid()}"
        self.cache = cache
        self.folder = cache / "hosts" / self.name

    def enter(self, base: Path) -> Path:
        """Enter the namespace, mount the root; returns the sandbox folder to use."""
        sweep(self.cache)
        enter_namespace(self.name)
        mount_overlay(base, self.folder)
        return self.folder

    def leave(self, stop: Callable[[], None]) -> None:
        """Stop what runs here (``stop``), unmount, delete the namespace."""
        try:
            stop()
        finally:
            remove_overlay(self.folder)
            remove_namespace(self.name)
