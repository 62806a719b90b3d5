"""The service's rules in config/hotline.yaml, shared and each organisation's own (its
``queues:``, ``retention:`` and ``audit:`` over the shared ones): how queues treat callers
and operators, and how long personal data and the audit trail are kept."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hotline.config.fields import Name, Section


class QueuesModel(Section):
    """How the service's queues treat callers and operators: the shared rules (``queues:``),
    and each organisation's (its own ``queues:``, any of these, over the shared ones)."""

    ring_timeout: int = Field(15, ge=5, le=120)
    wrap_up: int = Field(10, ge=0, le=600)
    pause_after_misses: int = Field(2, ge=0, le=10)
    announce_every: int = Field(30, ge=10, le=600)
    default_handle_time: int = Field(300, ge=10, le=7200)
    callback_attempts: int = Field(3, ge=1, le=10)
    callback_retry: int = Field(60, ge=5, le=3600)
    #: The wallboard's targets: share of calls answered within the threshold (seconds),
    #: and how soon an open detention notification must be handled (seconds).
    service_level_threshold: int = Field(20, ge=1, le=600)
    service_level_target: float = Field(0.8, gt=0, le=1)
    notification_target: int = Field(900, ge=60, le=86400)
    #: Why an operator may pause (``missed-calls`` is the service's own).
    pause_reasons: list[Name] = Field(["break", "training", "admin"], min_length=1)
    #: How many days of a caller's earlier calls the operator's desk shows.
    caller_history_days: int = Field(90, ge=0, le=3650)
    #: How a call ended for the caller, as the operator records it in the wrap-up.
    resolutions: list[Name] = Field(
        ["advice-given", "referred-to-centre", "lawyer-appointed", "callback-needed"],
        min_length=1,
    )
    #: How a detention notification was handled, as the operator who closes it records it.
    notification_outcomes: list[Name] = Field(
        [
            "lawyer-appointed",
            "family-informed",
            "passed-to-centre",
            "not-reached",
            "not-a-detention",
        ],
        min_length=1,
    )


class RecordingsModel(Section):
    #: Conversation recordings are deleted this many days after the call.
    retention_days: int = Field(90, ge=1, le=3650)


class RetentionModel(Section):
    """How long each kind of personal data is kept (days after the call, or after the report
    was stored): the shared rules (``retention:``), and each organisation's (its own
    ``retention:``, any of these, over the shared ones). What happens after it:
    :mod:`hotline.lifecycle`."""

    #: The call log's personal fields: caller numbers and names, the numbers callers typed
    #: (callbacks, SMS), operators' notes, and the same in the call's events and outbox.
    call_log_days: int = Field(365, ge=1, le=3650)
    #: After it a call's record is ``pseudonymise``d (its figures stay: counts, waits,
    #: outcomes, durations) or ``delete``d (the whole record, its events with it).
    call_log: Literal["pseudonymise", "delete"] = "pseudonymise"
    #: Detention reports (the notifications file and the call log's copy) and their recorded
    #: messages; a report still open is kept until it is handled.
    reports_days: int = Field(365, ge=1, le=3650)
    #: Conversation recordings (unset: ``recordings.retention_days``).
    recordings_days: int | None = Field(None, ge=1, le=3650)


class AuditModel(Section):
    """The audit trail of access to personal data (hotline/store/trail.py)."""

    #: Its entries are deleted this many days after the access: six years by default, longer
    #: than the data they name is kept (checked), so that an access can be answered for
    #: after the data itself is gone.
    days: int = Field(2190, ge=30, le=36_500)
