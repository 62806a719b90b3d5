"""What retention and erasure decide: a number's pseudonym, an event's personal fields
replaced, each organisation's cutoffs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from hotline.config.loading import parse
from hotline.lifecycle.policy import PERSONAL, due, erased, pseudonym, scrubbed, subject_hash
from routing.events import KINDS
from tests.unit.hotline.config.test_config import broken

KEY = b"k" * 32
NOW = datetime(2027, 11, 25, 9, tzinfo=UTC)


def test_a_pseudonym_is_the_same_for_a_number_and_says_nothing_of_it() -> None:
    one = pseudonym(KEY, "380501234567")
    assert one == pseudonym(KEY, "380501234567") != pseudonym(KEY, "380501234568")
    assert "380501234567" not in one and one.startswith("~")
    assert pseudonym(b"x" * 32, "380501234567") != one  # (another key, another pseudonym)
    assert pseudonym(KEY, one) == one and pseudonym(KEY, "") == ""  # (never twice)


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        (
            "call.started",
            {"caller": "380501234567", "number": "0800213103", "caller_name": "Olena",
             "sip_call_id": "abc@10.0.0.5", "channel": "PJSIP/trunk-1"},
            {"caller": "#", "number": "0800213103", "caller_name": "", "sip_call_id": "",
             "channel": "PJSIP/trunk-1"},
        ),
        (
            "callback.requested",
            {"number": "380501234567", "line": "detention", "reason": "abandoned"},
            {"number": "#", "line": "detention", "reason": "abandoned"},
        ),
        ("call.wrapped_up", {"topics": ["debt"], "note": "lives at ...", "by": "op1"},
         {"topics": ["debt"], "note": None, "by": "op1"}),
        ("call.ended", {"outcome": "answered", "wait": 3.0}, {"outcome": "answered", "wait": 3.0}),
    ],
)  # fmt: skip
def test_an_events_personal_fields_are_replaced_and_the_rest_stays(
    kind: str, data: dict[str, object], expected: dict[str, object]
) -> None:
    assert scrubbed(kind, data, lambda _: "#") == expected


def test_every_kind_named_personal_is_a_kind_of_event_with_those_fields() -> None:
    for kind, names in PERSONAL.items():
        fields = KINDS[kind].__dataclass_fields__  # type: ignore[attr-defined]
        assert set(names) <= set(fields), kind
    # every event field named like a number a caller gives is named personal
    for kind, fact in KINDS.items():
        if kind.startswith("escalation.") and kind != "escalation.started":
            continue  # (the numbers of the people on duty: staff, not callers)
        for name in ("caller", "note") + (("number",) if kind != "call.started" else ()):
            if name in fact.__dataclass_fields__:  # type: ignore[attr-defined]
                assert name in PERSONAL.get(kind, ()), (kind, name)


def test_erased_values_and_pseudonymised_ones_differ() -> None:
    data = {"caller": "380501234567", "number": "0800213103"}
    assert scrubbed("call.started", data, erased)["caller"] == ""
    assert scrubbed("call.started", data, partial(pseudonym, KEY))["caller"].startswith("~")


def test_each_organisation_is_due_after_its_own_period() -> None:
    deployment = parse(
        broken(
            lambda c: c["organisations"]["ge-legal-aid"].update(
                retention={"call_log_days": 30, "reports_days": 7, "call_log": "delete"}
            )
        )
    )
    found = {d.organisation: d for d in due(deployment, NOW)}
    georgia, ukraine, nobody = found["ge-legal-aid"], found["ua-legal-aid"], found[None]
    assert (georgia.calls_before, georgia.call_log) == (NOW - timedelta(days=30), "delete")
    assert georgia.reports_before == NOW - timedelta(days=7)
    assert georgia.numbers == deployment.organisations["ge-legal-aid"].numbers
    assert (ukraine.calls_before, ukraine.call_log) == (NOW - timedelta(days=365), "pseudonymise")
    assert ukraine.recordings_before == NOW - timedelta(days=90)
    # what is no organisation's: the shortest of every period
    assert (nobody.calls_before, nobody.reports_before) == (
        georgia.calls_before,
        georgia.reports_before,
    )
    assert nobody.numbers == frozenset()


def test_an_erasure_keeps_a_keyed_hash_not_the_number() -> None:
    kept = subject_hash(KEY, "380501234567")
    assert "380501234567" not in kept and kept == subject_hash(KEY, "380501234567")
    assert kept != subject_hash(b"x" * 32, "380501234567")
