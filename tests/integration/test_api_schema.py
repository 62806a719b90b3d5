"""schemathesis against the running service's OpenAPI schema, valid and invalid requests, with
a supervisor token, and each time with another one too (in turn: a wrong one, a viewer's, an
operator's): whatever it sends, the answer is never a server error, and it is what the schema
says: a status the route declares, of a media type it declares, its body valid against that
status's schema (every error an ErrorResponse), its headers too.

(schemathesis' pytest plugin does not run under pytest 9; its strategies are driven with
hypothesis here instead, one operation after another.)"""

from __future__ import annotations

from collections import Counter
from itertools import cycle
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.conftest import Service
from tests.integration.test_announcements import tone_wav

VIEWER = "viewer-token-of-the-schema-test"
OPERATOR = "operator-op1-token-of-the-schema-test"

#: A line's announcement is sent as a WAV file: a short real one, or bytes that are not audio
#: (which the service refuses with a 422).
schemathesis.openapi.media_type(
    "audio/wav",
    st.sampled_from([tone_wav(0.6)]) | st.binary(max_size=64),
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def test_no_server_error_and_every_answer_as_documented(service: Service) -> None:
    service.settings["HOTLINE_API_TOKENS"] = f"viewer={VIEWER},operator:op1={OPERATOR}"
    service.start()
    schema = schemathesis.openapi.from_url(service.url("/openapi.json"))
    tried: list[str] = []
    sent = 0
    others = cycle(("hl_not-a-token", VIEWER, OPERATOR))
    seen: Counter[int] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/api/v1/events":  # an endless stream: tested in test_call_log
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
                for token in (service.token, next(others)):
                    response = case.call(headers={"Authorization": f"Bearer {token}"}, timeout=10)
                    case.validate_response(response, checks=CHECKS)
                    seen[response.status_code] += 1
                    sent += 1

            try:
                no_server_error()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to get wrong (no parameter)
        tried.append(f"{operation.method.upper()} {operation.path}")
    assert len(tried) >= 10 and sent > 500, (tried, sent)
    assert {200, 401, 403, 404, 422} <= set(seen), seen  # each checked against its schema
    assert service.process is not None and service.process.poll() is None
    assert "Traceback" not in service.log.read_text()
