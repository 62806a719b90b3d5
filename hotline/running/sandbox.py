"""The local Asterisk sandbox: Debian's Asterisk 22 in a chroot built once with mmdebstrap.

It shares the host's network, so SIP (127.0.0.1:5060), AMI (127.0.0.1:5038) and FastAGI meet
on loopback. On every start the project's asterisk-config/, dialplans/, generated config and
built prompts are installed into its /etc/asterisk and sounds folder, and the firewall of a
real deployment is raised around it (firewall.py): the SIP port's nftables table and a
fail2ban server of its own that bans addresses failing to log in.

Part of the service's package, not of the development tools: `hotline up` (the README's first
command) and `hotline sandbox ...` run it; the integration tests and the measurements start it
too.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

from hotline.asterisk import render
from hotline.calls import prompts
from hotline.config.deployment import Deployment
from hotline.config.settings import Settings
from hotline.progress import Say, Steps
from hotline.running import firewall
from hotline.vault import new_key

SUITES = ("forky", "sid")  # forky first (steadier); sid has the same Asterisk
MIRROR = "http://deb.debian.org/debian"
PACKAGES = "asterisk,asterisk-core-sounds-en-wav,asterisk-moh-opsound-wav"
Progress = Say


class SandboxError(Exception):
    """The sandbox could not be built, configured or started; the message says why."""


def _mmdebstrap(
    suite: str, target: Path, progress: Progress, steps: Steps | None = None
) -> str | None:
    """Bootstrap Debian ``suite`` with Asterisk into ``target``, each of mmdebstrap's steps
    said as it begins (a counter and the seconds so far; given ``steps``, a step of an
    unknown number there); None, or why it failed."""
    started = time.monotonic()
    with subprocess.Popen(
        [
            "mmdebstrap",
            "--mode=root",
            "--variant=apt",
            '--aptopt=Acquire::Check-Valid-Until "false"',
            f"--include={PACKAGES}",
            suite,
            str(target),
            MIRROR,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as bootstrap:
        assert bootstrap.stderr is not None
        said: list[str] = []
        for line in bootstrap.stderr:
            said.append(line.strip())
            if line.startswith("I: "):  # mmdebstrap's steps ("I: extracting archives...")
                step = sum(seen.startswith("I: ") for seen in said)
                elapsed = time.monotonic() - started
                if steps is not None:
                    steps(step, None, line[3:].strip())
                else:
                    progress(f"  sandbox step {step} ({elapsed:.0f} s): {line[3:].strip()}")
    if bootstrap.returncode == 0:
        return None
    failures = [line for line in said if line.startswith("E: ")] or said[-1:]
    return "; ".join(failures) or f"exit code {bootstrap.returncode}"


def holders(ports: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """Who listens on each of ``ports`` (``("udp", 5060)``), on any address of this host:
    ``asterisk (pid 1234, root /work/other/.cache/sandbox/root)`` (the root: which
    checkout's Asterisk it is), by ``ss``."""
    listed = subprocess.run(
        ["ss", "-H", "-l", "-n", "-p", "-t", "-u"], capture_output=True, text=True, check=False
    ).stdout
    found: dict[tuple[str, int], str] = {}
    for line in listed.splitlines():
        fields = line.split()
        if len(fields) < 5 or not fields[4].rpartition(":")[2].isdigit():
            continue
        key = (fields[0], int(fields[4].rpartition(":")[2]))
        if key not in ports or key in found:
            continue
        process = re.search(r'\("([^"]+)",pid=(\d+)', line)
        if process is None:
            found[key] = "a process this user cannot see"
            continue
        name, pid = process.groups()
        try:
            root = os.readlink(f"/proc/{pid}/root")
        except OSError:
            root = "?"
        found[key] = f"{name} (pid {pid}" + (f", root {root})" if root != "/" else ")")
    return found


class Sandbox:
    """One Asterisk in a chroot under ``settings.sandbox_dir``."""

    def __init__(self, settings: Settings, project: Path | None = None) -> None:
        self.settings = settings
        self.project = project or Path.cwd()
        self.dir = settings.sandbox_dir.absolute()  # fail2ban, a daemon, works from /
        self.root = self.dir / "root"
        self.secrets_file = self.dir / "secrets.env"

    # -- building -------------------------------------------------------------------------
    @property
    def built(self) -> bool:
        return (self.root / "usr/sbin/asterisk").exists()

    def build(self, progress: Progress = print, steps: Steps | None = None) -> None:
        """Build the chroot once (about a minute); later calls reuse it. ``steps``: see
        :data:`hotline.progress.Steps`."""
        if self.built:
            return
        if shutil.which("mmdebstrap") is None:
            raise SandboxError("mmdebstrap is not installed: apt-get install -y mmdebstrap")
        self.dir.mkdir(parents=True, exist_ok=True)
        partial = self.dir / "root.partial"
        errors = []
        for suite in SUITES:
            shutil.rmtree(partial, ignore_errors=True)
            progress(f"building the Asterisk sandbox from Debian {suite} (about a minute)...")
            said = _mmdebstrap(suite, partial, progress, steps)
            if said is None:
                partial.rename(self.root)
                progress(f"sandbox built: {self.asterisk_version()}")
                return
            errors.append(f"{suite}: {said}")
        shutil.rmtree(partial, ignore_errors=True)
        raise SandboxError("mmdebstrap failed: " + "; ".join(map(str, errors)))

    def ensure_secrets(self, deployment: Deployment) -> dict[str, str]:
        """Secrets for the sandbox: taken from the environment, else generated once and kept
        (mode 0600) in secrets.env, which the service and tests read."""
        known: dict[str, str] = {}
        if self.secrets_file.exists():
            for line in self.secrets_file.read_text().splitlines():
                name, sep, value = line.partition("=")
                if sep:
                    known[name.strip()] = value.strip()
        names = render.secret_names(deployment)
        if deployment.trunk.auth or deployment.trunk.registration:
            # the sandbox's carrier (SIPp in the tests) takes whatever account it is told
            known.setdefault("HOTLINE_TRUNK_USERNAME", "hotline-sandbox")
            names.append("HOTLINE_TRUNK_PASSWORD")
        for name in names:
            known[name] = os.environ.get(name) or known.get(name) or secrets.token_urlsafe(18)
        # the key recordings and messages are sealed under (32 bytes, not a password)
        vault = "HOTLINE_RECORDINGS_KEY"
        known[vault] = os.environ.get(vault) or known.get(vault) or new_key()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.secrets_file.touch(mode=0o600)
        self.secrets_file.write_text("".join(f"{k}={v}\n" for k, v in sorted(known.items())))
        return known

    @property
    def certificate_authority(self) -> Path:
        """The sandbox's own CA (PEM): phones that check Asterisk's TLS certificate trust it."""
        return self.dir / "tls/ca.crt"

    def ensure_certificates(self) -> tuple[Path, Path]:
        """Asterisk's TLS certificate and key for phones, made once: a certificate authority of
        the sandbox's own signs a certificate for 127.0.0.1, localhost and this host's name."""
        folder = self.dir / "tls"
        certificate, key = folder / "hotline.crt", folder / "hotline.key"
        if certificate.exists() and key.exists():
            return certificate, key
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        ca_key, request, ca = folder / "ca.key", folder / "hotline.csr", self.certificate_authority
        names = f"subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:{socket.gethostname()}"
        rsa = ["-newkey", "rsa:2048", "-nodes"]
        ca_subject = ["-subj", "/CN=hotline sandbox CA"]
        sign = ["-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-extfile", "/dev/stdin"]
        steps = [
            ["req", "-x509", *rsa, "-days", "3650", "-keyout", ca_key, "-out", ca, *ca_subject],
            ["req", *rsa, "-keyout", key, "-out", request, "-subj", "/CN=127.0.0.1"],
            ["x509", "-req", "-in", request, "-days", "825", "-out", certificate, *sign],
        ]
        for step in steps:
            done = subprocess.run(
                ["openssl", *map(str, step)],
                input=f"{names}\nextendedKeyUsage=serverAuth\n",
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise SandboxError(f"openssl {step[0]} failed: {done.stderr.strip()[-300:]}")
        return certificate, key

    def build_prompts(
        self, deployment: Deployment, progress: Progress = print, steps: Steps | None = None
    ) -> None:
        """Build the prompt audio that is missing or out of date: every prompt with a source,
        so that a config switched at run time finds its prompts too."""
        names = (
            deployment.prompt_names()
            | prompts.SERVICE_PROMPTS
            | prompts.available(self.settings.prompts_dir, deployment.languages)
            | set(prompts.GENERATED)
        )
        built = prompts.build(
            self.settings.prompts_dir,
            self.settings.prompts_build_dir,
            deployment.languages,
            names,
            progress,
            deployment.prompt_texts,
            steps,
        )
        if built:
            progress(f"{built} prompt(s) built")

    def install(
        self,
        deployment: Deployment,
        env: dict[str, str],
        progress: Progress,
        steps: Steps | None = None,
    ) -> None:
        """Put the project's Asterisk config, the generated files and the prompts in place."""
        etc = self.root / "etc/asterisk"
        shutil.rmtree(etc, ignore_errors=True)
        etc.mkdir(parents=True)
        for folder in ("asterisk-config", "dialplans"):
            for conf in sorted((self.project / folder).glob("*.conf")):
                shutil.copy(conf, etc / conf.name)
        # the tests read what was played and typed (verbose(3), dtmf): the sandbox logs it,
        # test numbers only, until it is taken down (:meth:`down`)
        logger = etc / "logger.conf"
        logger.write_text(
            logger.read_text().replace(
                "messages => notice,warning,error,verbose(1)",
                "messages => notice,warning,error,verbose(3),dtmf",
            )
        )
        render.render(
            deployment,
            env,
            etc,
            self.settings.agi_address(),
            self.settings.ami_username,
            self.settings.takeover_seconds(),
        )
        if deployment.phones.tls or deployment.phones.browser:
            made = self.ensure_certificates()
            wanted = (deployment.phones.certificate.certificate, deployment.phones.certificate.key)
            for source, path in zip(made, wanted, strict=True):
                target = self.root / path.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(source, target)
                target.chmod(0o600)
        self.build_prompts(deployment, progress, steps)
        sounds = self.root / "usr/share/asterisk/sounds/hotline"
        shutil.rmtree(sounds, ignore_errors=True)
        shutil.copytree(self.settings.prompts_build_dir, sounds)
        (self.root / "run/asterisk").mkdir(parents=True, exist_ok=True)
        # without its own name here Asterisk asks DNS for it on every call, and stalls
        (self.root / "etc/hosts").write_text(
            f"127.0.0.1 localhost {socket.gethostname()}\n::1 localhost\n"
        )
        # no failed login of an earlier run: fail2ban would count those of its last minutes
        # again (registrations, in astdb, stay: Asterisk keeps them across restarts)
        if self.security_log.exists():
            self.security_log.replace(self.security_log.with_name("security.previous"))
        self.security_log.parent.mkdir(parents=True, exist_ok=True)
        self.security_log.touch()  # fail2ban watches it from the start, before Asterisk
        for folder in ("notifications", "recordings"):
            (self.root / "var/spool/asterisk/hotline" / folder).mkdir(parents=True, exist_ok=True)

    # -- the firewall -----------------------------------------------------------------------
    @property
    def security_log(self) -> Path:
        """Asterisk's security events: one line per failed login (what fail2ban reads)."""
        return self.root / "var/log/asterisk/security"

    @property
    def fail2ban(self) -> firewall.Fail2ban:
        return firewall.Fail2ban(self.dir / "fail2ban")

    def raise_firewall(self, deployment: Deployment, progress: Progress) -> None:
        """The SIP port's nftables table, and fail2ban's jail on the security log: in the
        network namespace of this process (the host's, or a test's own)."""
        ruleset = self.dir / "nftables-hotline.nft"
        try:
            ruleset.write_text(render.nftables(deployment))
            firewall.load_ruleset(ruleset)
            self.fail2ban.start(render.fail2ban_jail(deployment, str(self.security_log)))
        except (firewall.FirewallError, render.RenderError) as exc:
            raise SandboxError(str(exc)) from None
        ban = deployment.security.ban
        progress(
            f"fail2ban: jail {render.JAIL} up ({ban.failures} failed logins within "
            f"{ban.within} s: {ban.seconds} s ban; log {self.fail2ban.log})"
        )

    def lower_firewall(self) -> None:
        """Stop the sandbox's fail2ban (lifting its bans) and remove the SIP port's table."""
        try:
            self.fail2ban.stop()
            firewall.remove_table()
        except firewall.FirewallError:
            pass  # never installed: nothing was raised

    # -- running --------------------------------------------------------------------------
    def cli(self, command: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
        """Run an Asterisk CLI command in the sandbox."""
        return subprocess.run(
            ["chroot", str(self.root), "/usr/sbin/asterisk", "-rx", command],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )

    def running(self) -> bool:
        if not self.built:
            return False
        try:
            return self.cli("core show version", timeout=5).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def asterisk_version(self) -> str:
        done = subprocess.run(
            ["chroot", str(self.root), "/usr/sbin/asterisk", "-V"],
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip()

    def up(
        self, deployment: Deployment, progress: Progress = print, steps: Steps | None = None
    ) -> dict[str, str]:
        """Build if needed, install the config, (re)start Asterisk; return the secrets.
        ``steps``: the bootstrap's and the prompts' (:data:`hotline.progress.Steps`)."""
        if os.geteuid() != 0:
            raise SandboxError("the sandbox runs Asterisk in a chroot: run as root")
        self.build(progress, steps)
        env = self.ensure_secrets(deployment)
        if self.running():
            self.down(progress)
        if taken := holders(self.ports(deployment)):
            raise SandboxError(
                "cannot start the sandbox's Asterisk: "
                + "; ".join(f"127.0.0.1:{port}/{proto} is taken by {who}" for (proto, port), who
                            in sorted(taken.items(), key=lambda item: item[0][1]))
                + " (another checkout's sandbox? `hotline sandbox down` there stops it)"
            )  # fmt: skip
        self.install(deployment, env, progress, steps)
        self.raise_firewall(deployment, progress)  # before Asterisk: no unguarded moment
        progress("starting Asterisk...")
        done = subprocess.run(
            ["chroot", str(self.root), "/usr/sbin/asterisk"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SandboxError(f"Asterisk did not start: {done.stderr.strip()[-300:]}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                ok = self.cli("core waitfullybooted", timeout=30).returncode == 0
            except subprocess.TimeoutExpired:
                ok = False
            if ok:
                self._answering(deployment)
                sip = deployment.sip
                tls = f", :{sip.tls_port}/tls" if deployment.phones.tls else ""
                wss = f", wss://{sip.bind}:{sip.wss_port}/ws" if deployment.phones.browser else ""
                progress(
                    f"Asterisk is up: SIP {sip.bind}:{sip.udp_port}/udp{tls}{wss}, AMI 127.0.0.1:"
                    f"{self.settings.ami_port} (log: {self.root}/var/log/asterisk/messages)"
                )
                return env
            time.sleep(0.3)
        raise SandboxError(
            "Asterisk started but did not finish booting within 60 s; see "
            f"{self.root}/var/log/asterisk/messages"
        )

    def ports(self, deployment: Deployment) -> list[tuple[str, int]]:
        """The ports this sandbox's Asterisk listens on: SIP (UDP, and TLS and secure WebSocket
        for phones), AMI."""
        sip, phones = deployment.sip, deployment.phones
        found = [("udp", sip.udp_port), ("tcp", self.settings.ami_port)]
        found += [("tcp", sip.tls_port)] if phones.tls else []
        return found + ([("tcp", sip.wss_port)] if phones.browser else [])

    def _answering(self, deployment: Deployment) -> None:
        """The Asterisk on the SIP port is this sandbox's (not one that took it meanwhile):
        what calls and measures reach is what this sandbox started."""
        ours = (self.root / "run/asterisk/asterisk.pid").read_text().strip()
        sip = ("udp", deployment.sip.udp_port)
        who = holders([sip]).get(sip, "nobody")
        if f"(pid {ours}," not in who and f"(pid {ours})" not in who:
            raise SandboxError(
                f"127.0.0.1:{sip[1]}/udp is answered by {who}, not by this sandbox's "
                f"Asterisk (pid {ours}, root {self.root})"
            )

    def down(self, progress: Progress = print, forget: bool = False) -> None:
        """Stop Asterisk (hanging up every call in it), then its firewall; with ``forget``
        (taken down for good, not restarted) its verbose log goes too: the numbers and keys
        the calls had are kept no longer."""
        if self.running():
            self._stop_asterisk()
            progress("Asterisk stopped")
        else:
            progress("Asterisk is not running")
        self.lower_firewall()
        if forget:
            (self.root / "var/log/asterisk/messages").unlink(missing_ok=True)

    def _stop_asterisk(self) -> None:
        self.cli("core stop now")
        pid_file = self.root / "run/asterisk/asterisk.pid"
        deadline = time.monotonic() + 15
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.2)
        if self.running() and pid_file.exists():
            os.kill(int(pid_file.read_text().strip()), 9)

    def facts(self) -> dict[str, object]:
        """What :meth:`status` says, as data (``hotline sandbox status --json``)."""
        if not self.built:
            return {"built": False, "running": False, "root": str(self.root)}
        found: dict[str, object] = {"built": True, "version": self.asterisk_version()}
        if not self.running():
            return found | {"running": False}
        uptime = self.cli("core show uptime").stdout.strip()
        channels = re.search(r"(\d+) active channel", self.cli("core show channels count").stdout)
        contacts = self.cli("pjsip show contacts").stdout.strip().splitlines()
        registered = [
            line.split()[1]
            for line in contacts
            if line.strip().startswith("Contact:") and "/" in line.split()[1]
        ]
        banned = self.fail2ban.banned() if self.fail2ban.running() else None
        return found | {
            "running": True,
            "uptime": uptime,
            "channels": int(channels.group(1)) if channels else None,
            "registered": registered,
            "fail2ban": banned is not None,
            "banned": banned or [],
        }

    def status(self) -> str:
        facts = self.facts()
        if not facts["built"]:
            return f"not built (run `hotline sandbox up`; it builds into {self.root})"
        if not facts["running"]:
            return f"built ({facts['version']}), not running"
        registered, banned = facts["registered"], facts["banned"]
        assert isinstance(registered, list) and isinstance(banned, list)
        return "\n".join(
            [
                f"running: {facts['version']}",
                str(facts["uptime"]),
                f"{facts['channels']} active channel(s)",
                f"operators registered: {', '.join(registered) or 'none'}",
                "fail2ban: not running"
                if not facts["fail2ban"]
                else f"fail2ban: banned {', '.join(banned) or 'none'}",
            ]
        )
