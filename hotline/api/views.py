"""What the API shows of the switchboard: queues per line, and operators."""

from __future__ import annotations

import math
from typing import Any

from agents.state import OperatorState, State
from hotline.switchboard import Switchboard


def queues(board: Switchboard) -> dict[str, Any]:
    """Every line's queue now: waiting callers, longest wait, operators by state."""
    now = board.clock()
    lines: dict[str, Any] = {}
    for name in board.deployment.lines:
        waiting: list[dict[str, Any]] = []
        for w in sorted((w for w in board.waiting.values() if w.line == name), key=lambda w: w.seq):
            place, estimate = board.where(w.call)
            waiting.append(
                {
                    "call": w.call,
                    "position": place,
                    "language": w.language,
                    "priority": w.priority,
                    "callback": w.callback,
                    "waited": round((now - w.entered).total_seconds(), 1),
                    "estimated_wait": None if math.isinf(estimate) else round(estimate),
                }
            )
        serving = [
            op for op in board.operators.values() if board.deployment.operators[op.id].serves(name)
        ]
        lines[name] = {
            "waiting": waiting,
            "longest_wait": max((float(w["waited"]) for w in waiting), default=0.0),
            "operators": {s.value: sorted(op.id for op in serving if op.state is s) for s in State},
        }
    return lines


def operator(op: OperatorState) -> dict[str, Any]:
    return {
        "id": op.id,
        "state": op.state.value,
        "reachable": op.reachable,
        "since": op.since.isoformat() if op.since else None,
        "call": op.call,
        "pause_reason": op.pause_reason,
        "misses": op.misses,
    }
