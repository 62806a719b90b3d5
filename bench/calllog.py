"""The call log's write path alone: CPU a call to store a short answered call's events.

    python -m bench.calllog [--url URL] [--calls 2000] [--rate 100] [--profile out.prof]

Makes the events of ``--calls`` short calls arriving at ``--rate`` a second (started, menu key,
routed, queued, offered, answered, ended, and the operator's state changes, spread over the
call's 4 s as a real one spreads them) and writes them through ``Store.write`` in the batches
the writer makes (what ``LINGER`` seconds gather: a call's events fall in several), then prints
the process's CPU time a call, the database driver's thread included. SQLite in a temporary
folder by default; ``--url postgresql+asyncpg://...`` for PostgreSQL (its tables are dropped
and made again).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hotline.events import CallEvent
from hotline.store.calllog import LINGER
from hotline.store.db import Store
from routing import events as ev

#: When each of a call's events comes, in seconds from its start.
OFFSETS = (0.0, 1.5, 1.55, 1.6, 1.6, 1.6, 2.0, 2.0, 4.0, 4.0)


def call_events(n: int, start: datetime) -> list[CallEvent]:
    """One short answered call's events, from ``start``."""
    call = f"bench-{n}-{uuid.uuid4().hex[:8]}"
    operator = f"op{n % 8}"
    facts: list[tuple[str, ev.Fact]] = [
        (call, ev.CallStarted("+380501234567", "2145145", "", f"PJSIP/trunk-{n:08x}", call, call)),
        (call, ev.MenuAnswer("main", "1", "uk")),
        (call, ev.CallRouted("legal", "legal", "uk", (), ("main:1",))),
        (call, ev.CallQueued("legal", "uk", 5)),
        (call, ev.CallOffered(operator)),
        ("", ev.OperatorChanged(operator, "ringing", reachable=True)),
        (call, ev.CallAnswered(operator, 0.4)),
        ("", ev.OperatorChanged(operator, "talking", reachable=True)),
        (call, ev.CallEnded("answered", "legal", operator, 0.4, 2.0)),
        ("", ev.OperatorChanged(operator, "available", reachable=True)),
    ]
    return [
        CallEvent(c, i + 1, start + timedelta(seconds=offset), fact, uuid.uuid4().hex)
        for i, ((c, fact), offset) in enumerate(zip(facts, OFFSETS, strict=True))
    ]


async def run(url: str, calls: int, rate: float, profile: Path | None) -> dict[str, float]:
    store = Store(url)
    if store.dialect == "postgresql":
        from hotline.store.tables import Base

        async with store.engine.begin() as connection:
            await connection.run_sync(Base.metadata.drop_all)
            await connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    await store.upgrade()
    start = datetime.now(UTC)
    events = [e for n in range(calls) for e in call_events(n, start + timedelta(seconds=n / rate))]
    events.sort(key=lambda e: e.at)
    # what the writer's linger gathers: a batch holds the starts, middles and ends of many calls
    windows: dict[int, list[CallEvent]] = {}
    for e in events:
        windows.setdefault(int((e.at - start).total_seconds() / LINGER), []).append(e)
    batches = [windows[k] for k in sorted(windows)]
    profiler = cProfile.Profile() if profile else None
    cpu, wall = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    written = 0
    for chunk in batches:
        written += await store.write(chunk)
    if profiler is not None and profile is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    await store.close()
    assert written == len(events), (written, len(events))
    return {
        "calls": calls,
        "events": len(events),
        "batches": len(batches),
        "cpu_ms_per_call": 1000 * cpu / calls,
        "wall_ms_per_call": 1000 * wall / calls,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.calllog", description=__doc__)
    parser.add_argument("--url", default=None, help="the database (default: SQLite in a tmp dir)")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=100, help="calls a second")
    parser.add_argument("--profile", type=Path, default=None, help="cProfile's stats here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        url = args.url or f"sqlite+aiosqlite:///{folder}/bench.db"
        figures = asyncio.run(run(url, args.calls, args.rate, args.profile))
    print(
        f"{figures['calls']} calls, {figures['events']} events in {figures['batches']} "
        f"transactions: {figures['cpu_ms_per_call']:.3f} ms CPU a call, "
        f"{figures['wall_ms_per_call']:.3f} ms wall"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
