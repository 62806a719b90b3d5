"""Webhooks are signed as Standard Webhooks says: the specification's own test vector (its
Python library's test_sign_function), and what a receiver checks."""

from __future__ import annotations

import pytest

from hotline.outbound.signing import new_secret, secret_key, sign, verify

#: libraries/python/tests/test_webhooks.py of standard-webhooks/standard-webhooks.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
PAYLOAD = b'{"test": 2432232314}'
EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_specifications_test_vector() -> None:
    assert sign(secret_key(SECRET), MSG_ID, TIMESTAMP, PAYLOAD) == EXPECTED


def test_a_receiver_verifies_the_signature_the_time_and_the_body() -> None:
    key = secret_key(SECRET)
    now = TIMESTAMP + 10
    assert verify(key, MSG_ID, str(TIMESTAMP), PAYLOAD, EXPECTED, now)
    # one of several (a secret being rotated), in any place
    assert verify(key, MSG_ID, str(TIMESTAMP), PAYLOAD, f"v1,AAAA {EXPECTED}", now)
    assert not verify(key, MSG_ID, str(TIMESTAMP), PAYLOAD + b" ", EXPECTED, now)
    assert not verify(key, "msg_other", str(TIMESTAMP), PAYLOAD, EXPECTED, now)
    assert not verify(key, MSG_ID, str(TIMESTAMP), PAYLOAD, EXPECTED, TIMESTAMP + 301)  # replayed
    assert not verify(key, MSG_ID, "soon", PAYLOAD, EXPECTED, now)
    assert not verify(secret_key(new_secret()), MSG_ID, str(TIMESTAMP), PAYLOAD, EXPECTED, now)


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "must start with 'whsec_'"),
        ("whsec_not base64!", "is not base64"),
        ("whsec_c2hvcnQ=", "the key is 5 bytes; 24 to 64 are needed"),
    ],
)
def test_a_bad_secret_is_named_without_its_value(secret: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as caught:
        secret_key(secret)
    assert secret.removeprefix("whsec_") not in str(caught.value)


def test_an_id_with_a_dot_is_refused() -> None:
    with pytest.raises(ValueError, match="must not contain"):
        sign(secret_key(SECRET), "msg.1", TIMESTAMP, PAYLOAD)


def test_the_receivers_check_in_the_operations_page_accepts_what_the_door_signs() -> None:
    """docs/operations.md shows a registry how to verify a delivery: that very code, run."""
    import re
    import time

    from tests.conftest import ROOT

    text = (ROOT / "docs/operations.md").read_text()
    (code,) = re.findall(r"```python\n(.*?def genuine.*?)```", text, re.S)
    scope: dict[str, object] = {}
    exec(code, scope)
    genuine = scope["genuine"]
    now = int(time.time())
    secret = new_secret()
    body = b'{"type":"notification.stored","data":{"ref":"482193"}}'
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(now),
        "webhook-signature": sign(secret_key(secret), "msg_1", now, body),
    }
    assert genuine(secret, headers, body)  # type: ignore[operator]
    assert not genuine(secret, headers, body.replace(b"482193", b"482194"))  # type: ignore[operator]
    assert not genuine(new_secret(), headers, body)  # type: ignore[operator]
