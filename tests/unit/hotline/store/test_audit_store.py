"""The audit table on SQLite and PostgreSQL: entries written once by id, read by
organisation and filter, newest first, and deleted after their organisation's time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hotline.store.audit import AuditFilter
from hotline.store.db import Store
from hotline.store.trail import Kind, Reader, access, cutoffs, erasure

NOW = datetime(2032, 12, 1, tzinfo=UTC)
UA, GE = "ua-legal-aid", "ge-legal-aid"


async def test_entries_are_kept_read_and_pruned(database_url: str) -> None:
    store = Store(database_url)
    try:
        await store.upgrade()
        reader = Reader("env:2", "supervisor", None, UA, "203.0.113.7")
        entries = [
            access(NOW - timedelta(days=3000), Kind.RECORDING, reader, UA, call="ua-old"),
            access(NOW - timedelta(days=2), Kind.NOTE, reader, UA, call="ua-1", ref="318274"),
            access(NOW - timedelta(days=1), Kind.RECORDING, reader, UA, call="ua-1"),
            erasure(NOW - timedelta(days=2500), "admin", GE, call="ge-old", role="cli"),
            erasure(NOW - timedelta(days=1), "admin", GE, call="ge-1", role="cli"),
            erasure(NOW - timedelta(days=2500), "admin", None, role="cli"),
        ]
        assert await store.add_accesses(entries) == 6
        assert await store.add_accesses(entries[:2]) == 0  # (a spool sent again)
        rows, total = await store.audit(AuditFilter(organisation=UA), 2, 0)
        assert total == 3 and [r["call_id"] for r in rows] == ["ua-1", "ua-1"]  # newest first
        assert rows[0]["kind"] == "recording" and rows[0]["address"] == "203.0.113.7"
        found, _ = await store.audit(AuditFilter(organisation=UA, kind="note"), 10, 0)
        assert [(r["call_id"], r["ref"]) for r in found] == [("ua-1", "318274")]
        found, _ = await store.audit(AuditFilter(organisation=GE, by="admin"), 10, 0)
        assert [r["call_id"] for r in found] == ["ge-1", "ge-old"]
        since = AuditFilter(everyone=True, since=NOW - timedelta(days=3))
        assert (await store.audit(since, 10, 0))[1] == 3
        # Ukraine keeps ten years, the rest the deployment's six
        assert await store.prune_audit(cutoffs(2190, {UA: 3650, GE: None}, NOW)) == 2
        left, _ = await store.audit(AuditFilter(everyone=True), 10, 0)
        assert sorted(r["call_id"] for r in left) == ["ge-1", "ua-1", "ua-1", "ua-old"]
    finally:
        await store.close()
