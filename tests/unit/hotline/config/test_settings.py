"""Where a setting comes from, as docs/config.md: Settings says: the process's environment over
`.env` in the working folder, over the sandbox's `.cache/sandbox/secrets.env`; the same files
and the same order for the settings the service reads (`Settings`) and for the variables named
at run time (`environment()`: each phone's SIP password, an organisation's webhook secret)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.config.settings import Settings, environment


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with the sandbox's secrets and a .env, and an environment holding no
    HOTLINE_* variable."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in __import__("os").environ if n.startswith("HOTLINE_")]:
        monkeypatch.delenv(name)
    (tmp_path / ".cache/sandbox").mkdir(parents=True)
    (tmp_path / ".cache/sandbox/secrets.env").write_text(
        "HOTLINE_API_PORT=8001\n"
        "HOTLINE_AMI_SECRET=from-secrets\n"
        "HOTLINE_AGI_SECRET=from-secrets\n"
        "HOTLINE_SIP_PASSWORD_OP1=secrets-op1\n"
        "HOTLINE_SIP_PASSWORD_OP2=secrets-op2\n"
    )
    (tmp_path / ".env").write_text(
        "# a comment\n"
        "HOTLINE_API_PORT=8002\n"
        "HOTLINE_AMI_SECRET='from dotenv'\n"
        "HOTLINE_SIP_PASSWORD_OP1=dotenv-op1\n"
        "HOTLINE_WEBHOOK_SECRET_UA_LEGAL_AID=whsec_from_dotenv\n"
        "HOTLINE_NO_VALUE\n"
    )
    return tmp_path


def test_settings_take_the_environment_over_env_over_the_sandboxs_secrets(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings()
    assert settings.api_port == 8002  # .env over secrets.env
    assert settings.ami_secret.get_secret_value() == "from dotenv"  # (quotes taken off)
    assert settings.agi_secret.get_secret_value() == "from-secrets"  # only in secrets.env
    monkeypatch.setenv("HOTLINE_API_PORT", "8003")
    assert Settings().api_port == 8003  # the process's environment over both


def test_without_files_the_defaults(folder: Path) -> None:
    (folder / ".env").unlink()
    (folder / ".cache/sandbox/secrets.env").unlink()
    settings = Settings()
    assert settings.api_port == 8080 and settings.ami_secret.get_secret_value() == ""


def test_the_environment_of_every_command_in_the_same_order(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `asterisk render` writes into the phones' endpoints: names kept as written (upper
    case), a line without a value left out."""
    monkeypatch.setenv("HOTLINE_SIP_PASSWORD_OP2", "process-op2")
    found = environment()
    assert found["HOTLINE_SIP_PASSWORD_OP1"] == "dotenv-op1"
    assert found["HOTLINE_SIP_PASSWORD_OP2"] == "process-op2"
    assert found["HOTLINE_AGI_SECRET"] == "from-secrets"
    assert "HOTLINE_NO_VALUE" not in found
    assert "hotline_sip_password_op1" not in found


def test_a_file_named_after_them_is_read_last(folder: Path) -> None:
    """A reload's sandbox (`environment(sandbox / "secrets.env")`): its secrets over .env's."""
    more = folder / "other-sandbox.env"
    more.write_text("HOTLINE_SIP_PASSWORD_OP1=other-op1\n")
    assert environment(more)["HOTLINE_SIP_PASSWORD_OP1"] == "other-op1"
    assert environment(folder / "missing.env")["HOTLINE_SIP_PASSWORD_OP1"] == "dotenv-op1"


def test_an_organisations_webhook_secret_from_env(folder: Path) -> None:
    settings = Settings()
    name = settings.webhook_secret_name("ua-legal-aid")
    assert name == "HOTLINE_WEBHOOK_SECRET_UA_LEGAL_AID"
    assert settings.webhook_secret("ua-legal-aid") == "whsec_from_dotenv"
