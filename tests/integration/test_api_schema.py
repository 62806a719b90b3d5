"""schemathesis against the running service's OpenAPI schema, valid and invalid requests, with
a supervisor token and with a wrong one: whatever it sends, the answer is never a server error.

(schemathesis' pytest plugin does not run under pytest 9; its strategies are driven with
hypothesis here instead, one operation after another.)"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.integration.conftest import Service


def test_no_server_error(service: Service) -> None:
    service.start()
    schema = schemathesis.openapi.from_url(service.url("/openapi.json"))
    tried: list[str] = []
    sent = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/api/events":  # an endless stream: tested in test_call_log
            continue
        for mode in GenerationMode:

            @given(case=operation.as_strategy(mode))
            @settings(
                max_examples=50,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def no_server_error(case: Any) -> None:
                nonlocal sent
                for token in (service.token, "hl_not-a-token"):
                    response = case.call(headers={"Authorization": f"Bearer {token}"}, timeout=10)
                    case.validate_response(response, checks=[not_a_server_error])
                    sent += 1

            try:
                no_server_error()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to get wrong (no parameter)
        tried.append(f"{operation.method.upper()} {operation.path}")
    assert len(tried) >= 10 and sent > 500, (tried, sent)
    assert service.process is not None and service.process.poll() is None
    assert "Traceback" not in service.log.read_text()
