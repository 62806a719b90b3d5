"""The config read again while the service runs: `hotline reload`, SIGHUP, or a supervisor's
``POST /api/v1/config/reload``.

The new config is checked first, as `hotline check` checks it (and Asterisk's files rendered
from it, which need every endpoint's password): a config that cannot run is refused with the
same messages, and nothing changes. Then Asterisk's generated files are written where they
changed and the modules that read them reloaded (PJSIP's endpoints, the dialplan, the fallback
queues: calls going on are not touched), the prompts the config names built and put beside
Asterisk's, and every part of the service takes the new deployment (app.py says which and
how): a caller waiting keeps their place, a talk goes on. What changed is logged and published
as ``config.reloaded``.

What only a restart can change is refused, naming it: ``sip`` (Asterisk's transports and the
ports it listens on) and ``phones`` (TLS, the browser's phone, TURN).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import logging
import shutil
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from hotline.asterisk import render
from hotline.asterisk.ami import AmiUnavailable, modules_of
from hotline.calls import prompts
from hotline.config.deployment import Deployment
from hotline.config.loading import ConfigError, parse, read
from hotline.config.settings import Settings, environment
from hotline.events import CallEvent, EventBus
from routing.events import ConfigReloaded

log = logging.getLogger(__name__)

#: The config's sections only a restart takes (Asterisk cannot reload its transports).
RESTART_ONLY = ("sip", "phones")
#: Differences are named down to this depth (``organisations.ua-legal-aid.operators.op4``).
DEPTH = 5


class ReloadRefused(Exception):
    """The config read again cannot run, or asks for what only a restart does: nothing was
    changed. ``problems``: one message each, as `hotline check` words them."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Reloaded:
    """A reload done: what changed (paths in the config, each with ``added``, ``removed`` or
    ``changed``) and what Asterisk was asked to read again."""

    changes: tuple[str, ...]
    asterisk: tuple[str, ...]
    #: What was left as it was, and why (Asterisk's files where the service cannot write them).
    notes: tuple[str, ...] = ()


def differences(old: Any, new: Any, path: str = "", depth: int = 0) -> list[str]:
    """What differs between two configs as YAML reads them: ``path: added|removed|changed``,
    mappings followed down to :data:`DEPTH` levels."""
    if old == new:
        return []
    if isinstance(old, Mapping) and isinstance(new, Mapping) and depth < DEPTH:
        found = []
        for key in [*old, *(k for k in new if k not in old)]:
            where = f"{path}.{key}" if path else str(key)
            if key not in new:
                found.append(f"{where}: removed")
            elif key not in old:
                found.append(f"{where}: added")
            else:
                found += differences(old[key], new[key], where, depth + 1)
        return found
    return [f"{path or '(the whole config)'}: changed"]


def digest(path: Path) -> str:
    """The file's SHA-256, its first 16 hex digits ("" when it cannot be read)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        return ""


class Reloader:
    """Reads the config again and hands it to the running service, one reload at a time."""

    def __init__(
        self,
        settings: Settings,
        take: Callable[[Deployment], None],
        reload_asterisk: Callable[[list[str]], Awaitable[list[str]]] | None,
        bus: EventBus,
        clock: Callable[[], datetime],
        active: Callable[[], bool] = lambda: True,
        claim: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings
        #: Every part of the service takes the new deployment (hotline/app.py).
        self.take = take
        #: Has Asterisk reload these modules (None: no reload account, HOTLINE_AMI_RELOAD_SECRET).
        self.reload_asterisk = reload_asterisk
        #: Whether this instance is the active one (a standby leaves Asterisk to it).
        self.active = active
        self.bus = bus
        self.clock = clock
        #: Points the dialplan at this instance again (a reloaded dialplan forgets it).
        self.claim = claim
        self.path = settings.config
        try:
            self.raw: Any = read(self.path)
        except ConfigError:  # (read at the start a moment ago: gone since, or unreadable)
            self.raw = None
        self.digest = digest(self.path)
        self._lock = asyncio.Lock()
        #: The last reload of another instance this one followed (its event's id).
        self._followed: str | None = None

    async def reload(self, by: str) -> Reloaded:
        """Read the config again and take it; ReloadRefused (nothing changed) when it cannot
        run. ``by``: who asked (an operator's or a token's name, ``SIGHUP``, ``cli``)."""
        async with self._lock:
            return await self._reload(by)

    async def _reload(self, by: str) -> Reloaded:
        raw, new = self._checked()
        changes = tuple(differences(self.raw, raw))
        if restart := [c for c in changes if c.split(".", 1)[0].split(":")[0] in RESTART_ONLY]:
            raise ReloadRefused(
                [
                    f"{self.path}: {c}: only a restart takes this (Asterisk's transports)"
                    for c in restart
                ]
            )
        files = self._files(new)
        reloaded: tuple[str, ...] = ()
        notes: list[str] = []
        root = self.settings.root_of_asterisk()
        if root is None:
            notes.append(
                "Asterisk's files were not written (HOTLINE_ASTERISK_ROOT is not set): "
                "`hotline asterisk render` and an Asterisk reload take the new endpoints "
                "and dialplan"
            )
        elif not self.active():
            notes.append("a standby: the active instance writes and reloads Asterisk's files")
        else:
            try:
                await asyncio.to_thread(self._prompts, new, root)
            except prompts.PromptError as exc:
                raise ReloadRefused([f"{self.path}: {exc}"]) from None
            written = render.write(files, root / "etc/asterisk", only_changed=True)
            modules = modules_of(p.name for p in written)
            if modules and self.reload_asterisk is None:
                notes.append(
                    "Asterisk's files are written, not reloaded (HOTLINE_AMI_RELOAD_SECRET is "
                    "not set): `hotline asterisk reload` has Asterisk read them"
                )
            elif modules and self.reload_asterisk is not None:
                try:
                    reloaded = tuple(await self.reload_asterisk(modules))
                except AmiUnavailable as exc:
                    notes.append(f"Asterisk did not reload its files ({exc}): they are written")
            if "pbx_config.so" in reloaded and self.claim is not None:
                await self.claim()
        self.take(new)
        self.raw, self.digest = raw, digest(self.path)
        fact = ConfigReloaded(by, changes, reloaded, self.digest)
        self.bus.publish(CallEvent("", 0, self.clock(), fact))
        log.info(
            "config %s reloaded by %s: %s; Asterisk: %s",
            self.path,
            by,
            "; ".join(changes) or "nothing changed",
            ", ".join(reloaded) or "nothing reloaded",
        )
        for note in notes:
            log.warning("reload: %s", note)
        return Reloaded(changes, reloaded, tuple(notes))

    async def follow(self, last: Callable[[], Awaitable[Any]], every: float = 10.0) -> None:
        """With a standby (HOTLINE_HA), for ever: once another instance has reloaded a config
        that is not this one's (its ``config.reloaded`` in the shared database, ``last()``),
        this one reads its own file again too. Its refusal is logged, not tried again until
        the next reload."""
        while True:
            try:
                event = await last()
                if self._followed is None:  # (at the start: the reloads before it are known)
                    self._followed = event.id if event is not None else ""
                elif event is not None and event.id != self._followed:
                    self._followed = event.id
                    if event.data.get("digest") != self.digest:
                        await self.reload("another instance's reload")
            except ReloadRefused as exc:
                log.error(
                    "reload after another instance's refused, this one's config stays:\n%s", exc
                )
            except Exception as exc:  # (the database away: the next round)
                log.warning("reloads of the other instances not read: %s", exc)
            await asyncio.sleep(every)

    def _checked(self) -> tuple[Any, Deployment]:
        """The config as YAML reads it and as the service runs it; ReloadRefused with the
        problems `hotline check` names."""
        try:
            raw = read(self.path)
            new = parse(copy.deepcopy(raw), str(self.path))
        except ConfigError as exc:
            raise ReloadRefused(str(exc).splitlines()) from None
        names = new.prompt_names() | prompts.SERVICE_PROMPTS
        if missing := prompts.missing(
            self.settings.prompts_dir, new.languages, names, new.prompt_texts
        ):
            where = self.settings.prompts_dir
            raise ReloadRefused([f"{self.path}: prompts missing in {where}: {', '.join(missing)}"])
        return raw, new

    def _files(self, new: Deployment) -> dict[str, str]:
        """Asterisk's generated files for ``new`` (ReloadRefused: a password is missing)."""
        try:
            return render.generated(
                new,
                environment(self.settings.sandbox_dir / "secrets.env"),
                self.settings.agi_address(),
                self.settings.ami_username,
                self.settings.takeover_seconds(),
            )
        except render.RenderError as exc:
            hint = "set it in .env (the sandbox's: its secrets.env), then reload again"
            raise ReloadRefused([f"{self.path}: {exc}; {hint}"]) from None

    def _prompts(self, new: Deployment, root: Path) -> None:
        """The prompts the new config names, built where out of date and put beside
        Asterisk's (those it plays already are left as they are)."""
        names = new.prompt_names() | prompts.SERVICE_PROMPTS | set(prompts.GENERATED)
        built = self.settings.prompts_build_dir
        prompts.build(
            self.settings.prompts_dir, built, new.languages, names, texts=new.prompt_texts
        )
        sounds = root / "usr/share/asterisk/sounds/hotline"
        for source in built.rglob("*"):
            if source.is_file():
                target = sounds / source.relative_to(built)
                if not target.exists() or target.stat().st_mtime < source.stat().st_mtime:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, target)
