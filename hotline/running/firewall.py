"""The sandbox's firewall: its own fail2ban server and the SIP port's nftables table.

Both act on the network namespace of the process that starts them (in the tests, the test
process's own host: tests/isolation.py), so a ban made there stays there.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from hotline.asterisk.render import JAIL, NFT_TABLE

#: Debian's fail2ban config, whose filters and actions (and jail.conf's defaults) are copied.
STOCK = Path("/etc/fail2ban")
#: What is copied from it: not jail.d/, whose Debian default jail (sshd) reads the systemd
#: journal, which a sandbox has no business with.
COPIED = ("fail2ban.conf", "jail.conf", "filter.d", "action.d")
#: The nftables table of fail2ban's stock ``nftables`` action (its sets: addr-set-<jail>).
F2B_TABLE = "f2b-table"


class FirewallError(Exception):
    """fail2ban or nftables is missing, or refused; the message says which and why."""


def _run(*command: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    if shutil.which(command[0]) is None:
        package = "nftables" if command[0] == "nft" else "fail2ban"
        raise FirewallError(f"{command[0]} is not installed: apt-get install -y {package}")
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=timeout)


def load_ruleset(ruleset: Path) -> None:
    """Apply an nftables ruleset file (it replaces its own table)."""
    done = _run("nft", "-f", str(ruleset))
    if done.returncode != 0:
        raise FirewallError(f"nft -f {ruleset} failed: {done.stderr.strip()[-300:]}")


def remove_table(table: str = NFT_TABLE) -> None:
    """Delete the SIP port's nftables table, if there is one."""
    if _run("nft", "list", "table", "inet", table).returncode == 0:
        _run("nft", "delete", "table", "inet", table)


class Fail2ban:
    """A fail2ban server of the sandbox's own: config, socket, pid file, log and database in
    ``folder``, the rendered jail its only one."""

    def __init__(self, folder: Path) -> None:
        # absolute: the server, once a daemon, works from / (a relative socket path in its
        # config would name another file, and the client would wait for it in vain)
        self.folder = folder = folder.absolute()
        self.conf = folder / "etc"
        self.pid_file = folder / "fail2ban.pid"
        self.socket = folder / "fail2ban.sock"
        self.log = folder / "fail2ban.log"

    def client(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run ``fail2ban-client`` against this server."""
        return _run("fail2ban-client", "-c", str(self.conf), *args, timeout=timeout)

    def configure(self, jail: str) -> None:
        """A fresh config folder: the stock filters and actions, this server's own paths, and
        ``jail`` (the rendered jail). The database goes too: no ban outlives a restart."""
        if not STOCK.is_dir():
            raise FirewallError(f"{STOCK} is missing: apt-get install -y fail2ban")
        if len(str(self.socket)) > 100:  # a Unix socket's path holds 107 bytes at most
            raise FirewallError(f"fail2ban's socket path is too long: {self.socket}")
        shutil.rmtree(self.conf, ignore_errors=True)
        self.conf.mkdir(parents=True)
        for name in COPIED:
            source = STOCK / name
            if source.is_dir():
                shutil.copytree(source, self.conf / name)
            else:
                shutil.copy(source, self.conf / name)
        for paths in STOCK.glob("paths-*.conf"):  # jail.conf includes the distribution's
            shutil.copy(paths, self.conf / paths.name)
        (self.conf / "fail2ban.local").write_text(
            "[Definition]\n"
            "allowipv6 = auto\n"  # what fail2ban guesses anyway, minus its warning
            f"logtarget = {self.log}\n"
            f"socket = {self.socket}\n"
            f"pidfile = {self.pid_file}\n"
            f"dbfile = {self.folder / 'fail2ban.sqlite3'}\n"
        )
        (self.conf / "jail.d").mkdir()
        (self.conf / "jail.d/hotline.conf").write_text(jail)
        (self.folder / "fail2ban.sqlite3").unlink(missing_ok=True)

    def start(self, jail: str, timeout: float = 30) -> None:
        """(Re)start the server with ``jail``; return once the jail is up."""
        self.stop()
        self.configure(jail)
        # -x: a socket left by a server that was killed (its namespace deleted) is stale
        done = self.client("-x", "start", timeout=timeout)
        deadline = time.monotonic() + timeout
        while done.returncode != 0 or self.client("status", JAIL).returncode != 0:
            if done.returncode != 0 or time.monotonic() > deadline:
                raise FirewallError(
                    f"fail2ban's jail {JAIL} is not up: {done.stderr.strip()[-500:]}\n"
                    + (self.log.read_text(errors="replace")[-1500:] if self.log.exists() else "")
                )
            time.sleep(0.2)

    def running(self) -> bool:
        try:
            return self.client("ping", timeout=10).returncode == 0
        except FirewallError:  # not installed: not running either
            return False

    def stop(self) -> None:
        """Stop the server (its jail's nftables rules go with it)."""
        if not self.conf.is_dir():
            return
        if self.running():
            self.client("stop")
        deadline = time.monotonic() + 10
        while (pid := self._pid()) is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid is not None:  # did not stop when told
            os.kill(pid, signal.SIGKILL)

    def _pid(self) -> int | None:
        """This server's process id while it runs (a pid file's number may since have been
        given to another process: its command line must name this server's socket)."""
        try:
            pid = int(self.pid_file.read_text().strip())
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        ours = b"fail2ban-server" in b" ".join(command) and str(self.socket).encode() in command
        return pid if ours else None

    def banned(self) -> list[str]:
        """The addresses the firewall drops now: the elements of the jail's nftables sets
        (fail2ban lists a ban a moment before its action adds it there, and an unban a
        moment before it is gone). None before the first ban, which creates the sets."""
        found: list[str] = []
        for kind in ("addr-set", "addr6-set"):
            listed = _run("nft", "-j", "list", "set", "inet", F2B_TABLE, f"{kind}-{JAIL}")
            if listed.returncode != 0:
                continue
            for item in json.loads(listed.stdout)["nftables"]:
                for element in item.get("set", {}).get("elem", []):
                    found.append(element["elem"]["val"] if isinstance(element, dict) else element)
        return found
