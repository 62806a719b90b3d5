"""The desk's phones' credentials, as Asterisk reads them (its realtime table ps_auths)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from hotline.asterisk.desk import FILE, REALM, DeskPhones, digest


def auths(folder: Path) -> dict[str, tuple[str, str, str, str]]:
    with contextlib.closing(sqlite3.connect(folder / FILE)) as db:
        rows = db.execute("SELECT id, auth_type, username, realm, md5_cred FROM ps_auths")
        return {row[0]: row[1:] for row in rows}


def test_a_session_gets_credentials_asterisk_checks_by_digest_alone(tmp_path: Path) -> None:
    phones = DeskPhones(tmp_path)
    given = phones.issue("anna", token="7")
    assert given.username == "anna.desk" and len(given.password) >= 32
    assert auths(tmp_path) == {
        "anna.desk": ("md5", "anna.desk", REALM, digest("anna.desk", given.password))
    }
    assert given.password.encode() not in (tmp_path / FILE).read_bytes()
    assert (tmp_path / FILE).stat().st_mode & 0o007 == 0


def test_a_new_session_ends_the_last_ones_credentials(tmp_path: Path) -> None:
    phones = DeskPhones(tmp_path)
    first = phones.issue("anna", token="7")
    second = phones.issue("anna", token="9")
    assert first.password != second.password
    assert auths(tmp_path)["anna.desk"][3] == digest("anna.desk", second.password)
    assert phones.revoke(token="7") == []  # the first session holds nothing any more
    assert phones.revoke(token="9") == ["anna"]
    assert auths(tmp_path) == {}


def test_revoking_by_operator_or_token_touches_no_one_else(tmp_path: Path) -> None:
    phones = DeskPhones(tmp_path)
    for operator, token in (("anna", "1"), ("boris", "2"), ("chen", "2")):
        phones.issue(operator, token)
    assert phones.revoke(operator="anna") == ["anna"]
    assert phones.revoke(operator="boris", token="1") == []
    assert sorted(phones.revoke(token="2")) == ["boris", "chen"]
    with pytest.raises(ValueError, match="an operator, a token"):
        phones.revoke()


def test_at_a_start_sessions_whose_token_is_gone_lose_their_phone(tmp_path: Path) -> None:
    phones = DeskPhones(tmp_path)
    phones.issue("anna", "1")
    phones.issue("boris", "2")
    assert DeskPhones(tmp_path).keep_only({"2"}) == ["anna"]
    assert list(auths(tmp_path)) == ["boris.desk"]


def test_who_holds_credentials_is_read_again_only_when_the_file_changed(tmp_path: Path) -> None:
    phones, other = DeskPhones(tmp_path), DeskPhones(tmp_path)  # (another instance's)
    assert not phones.holds("anna") and phones.holders() == {}  # no file yet
    phones.issue("anna", "session:1")
    assert phones.holders() == {"anna": "session:1"} and phones.holds("anna")
    assert other.holds("anna")
    other.issue("boris", "token:2")
    assert phones.holders() == {"anna": "session:1", "boris": "token:2"}
    phones.revoke(operator="anna")
    assert not phones.holds("anna") and not other.holds("anna") and other.holds("boris")
