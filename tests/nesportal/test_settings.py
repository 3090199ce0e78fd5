"""The settings module, as the deployment sees it: ``manage.py`` in a controlled environment.

Each test runs ``manage.py`` in a subprocess with only the variables it names (settings are read
once per process, so this is the only honest way to test startup refusals).
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

MANAGE = Path(settings.BASE_DIR) / "manage.py"


def ca_files(directory: Path, *, strict: bool = True) -> dict[str, str]:
    """A CA as the operator provides it: certificates, keys and the root's CRL (ARL).

    ``strict=False``: an issuing CA certificate without CRL distribution point and AIA.
    """
    from certificates import pki, root

    arl_url = "http://nes.example.gov.tr/crl/nes-portal-root.crl"
    pki.create_demo_pki(
        directory,
        arl_url=arl_url if strict else None,
        root_certificate_url="http://nes.example.gov.tr/ca/nes-portal-root.crt" if strict else None,
    )
    root.sign_arl(
        root_certificate=directory / "root.crt",
        root_key=directory / "root.key",
        out=directory / "root.crl",
        idp_url=arl_url,
    )
    return {
        "NES_CA_CERT_PATH": str(directory / "issuing.crt"),
        "NES_CA_KEY_PATH": str(directory / "issuing.key"),
        "NES_CA_CHAIN_PATH": str(directory / "root.crt"),
        "NES_OCSP_CERT_PATH": str(directory / "ocsp.crt"),
        "NES_OCSP_KEY_PATH": str(directory / "ocsp.key"),
        "NES_ARL_PATH": str(directory / "root.crl"),
    }


@pytest.fixture
def production_env(tmp_path: Path) -> dict[str, str]:
    """DEBUG off and every production variable set, as in docker-compose.yml."""
    return {
        **ca_files(tmp_path / "ca"),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "nes.example.gov.tr",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        "REDIS_URL": "redis://127.0.0.1:6379/15",
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
        "TWILIO_FROM": "+15005550006",
        "EMAIL_URL": "smtp+tls://portal:mail-password@mail.example.gov.tr:587",
        "VAULT_KEYS": "prod-1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
    }


def manage(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``manage.py args`` with exactly ``env`` (plus PATH/HOME), never the test run's own."""
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
        "DJANGO_SETTINGS_MODULE": "nesportal.settings",
        # Anything written (a dev secret key, the SMS outbox) stays in this test's directory.
        "VAR_DIR": str(tmp_path / "var"),
    }
    return subprocess.run(
        [sys.executable, str(MANAGE), *args],
        env={**base, **env},
        cwd=MANAGE.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def without(env: dict[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in names}


def check_deploy(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return manage(tmp_path, env, "check", "--deploy", "--fail-level", "WARNING")


def show(tmp_path: Path, env: dict[str, str], *names: str) -> subprocess.CompletedProcess[str]:
    """Print the named settings, space-separated, as the process with ``env`` sees them."""
    code = f"from django.conf import settings as s; print(*(getattr(s, n) for n in {names!r}))"
    return manage(tmp_path, env, "shell", "--no-imports", "-c", code)


def test_it_passes_check_deploy_with_the_production_variables(tmp_path, production_env):
    result = check_deploy(tmp_path, production_env)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    output = result.stdout + result.stderr
    assert "WARNINGS" not in output
    assert "ERRORS" not in output
    assert not (tmp_path / "var" / "dev-secret-key").exists()


@pytest.mark.parametrize(
    ("changes", "reported", "not_reported"),
    [
        # Proves the harness above would see a warning if there were one.
        pytest.param({"SECRET_KEY": "short"}, ["security.W009"], [], id="weak-secret-key"),
        pytest.param(
            {"SMS_BACKEND": "file"},
            ["accounts.W001", "SMS_BACKEND='file'"],
            ["accounts.W002"],
            id="w001-development-sms-backend",
        ),
        pytest.param(
            {"REDIS_URL": None}, ["accounts.W002"], ["accounts.W001"], id="w002-no-celery-broker"
        ),
        pytest.param(
            {"TWILIO_AUTH_TOKEN": None}, ["accounts.E001"], [], id="e001-twilio-without-credentials"
        ),
        pytest.param(
            {"NES_CA_KEY_PATH": "/nonexistent/issuing.key"},
            ["certificates.W001"],
            [],
            id="w001-ca-unreadable",
        ),
        pytest.param(
            {"NES_ARL_PATH": "/nonexistent/root.crl"},
            ["certificates.W003"],
            ["certificates.W002"],
            id="w003-no-arl",
        ),
    ],
)
def test_it_fails_check_deploy_on_a_production_variable_gone_wrong(
    tmp_path, production_env, changes, reported, not_reported
):
    """``changes`` maps a variable to its new value, or to None to leave it out."""
    env = without({**production_env, **changes}, *[k for k, v in changes.items() if v is None])

    result = check_deploy(tmp_path, env)

    assert result.returncode != 0
    for text in reported:
        assert text in result.stderr
    for text in not_reported:
        assert text not in result.stderr


def test_it_warns_about_an_issuing_ca_that_strict_validators_reject(tmp_path, production_env):
    env = {**production_env, **ca_files(tmp_path / "lax-ca", strict=False)}

    result = check_deploy(tmp_path, env)

    assert result.returncode != 0
    assert result.stderr.count("certificates.W002") == 2  # no CRL distribution point, no AIA


def test_it_refuses_captcha_test_mode_without_debug(tmp_path, production_env):
    result = manage(tmp_path, {**production_env, "CAPTCHA_TEST_MODE": "true"}, "check")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "CAPTCHA_TEST_MODE is refused when DEBUG is off." in result.stderr


def test_it_allows_captcha_test_mode_with_debug(tmp_path, production_env):
    env = {**production_env, "DEBUG": "true", "CAPTCHA_TEST_MODE": "true"}

    result = show(tmp_path, env, "CAPTCHA_TEST_MODE", "DEBUG")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True True"


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off(tmp_path, production_env):
    env = without(production_env, "SECRET_KEY")

    result = manage(tmp_path, env, "check")

    assert result.returncode != 0
    assert "SECRET_KEY (or SECRET_KEY_FILE) must be set when DEBUG is off." in result.stderr
    assert not (tmp_path / "var" / "dev-secret-key").exists()


def test_it_makes_a_development_secret_key_when_debug_is_on(tmp_path):
    first = show(tmp_path, {"DEBUG": "true"}, "SECRET_KEY")
    second = show(tmp_path, {"DEBUG": "true"}, "SECRET_KEY")

    key_file = tmp_path / "var" / "dev-secret-key"
    assert first.returncode == 0, first.stderr
    assert key_file.exists()
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert first.stdout.strip() == key_file.read_text().strip()
    assert len(first.stdout.strip()) >= 50
    assert second.stdout == first.stdout  # kept, so sessions survive a restart


def test_it_reads_the_secret_key_from_secret_key_file(tmp_path, production_env):
    key = secrets.token_urlsafe(64)
    key_file = tmp_path / "secret_key"
    key_file.write_text(key + "\n", encoding="utf-8")
    env = without(production_env, "SECRET_KEY")
    env["SECRET_KEY_FILE"] = str(key_file)

    printed = show(tmp_path, env, "SECRET_KEY")
    deploy = check_deploy(tmp_path, env)

    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.strip() == key
    assert deploy.returncode == 0, deploy.stderr


def test_it_prefers_secret_key_file_over_secret_key(tmp_path, production_env):
    key_file = tmp_path / "secret_key"
    key_file.write_text("from-the-file-" + secrets.token_hex(24), encoding="utf-8")
    env = {**production_env, "SECRET_KEY_FILE": str(key_file)}

    result = show(tmp_path, env, "SECRET_KEY")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == key_file.read_text()


def test_it_reads_the_twilio_auth_token_from_a_file(tmp_path, production_env):
    token_file = tmp_path / "twilio_token"
    token_file.write_text("token-from-file\n", encoding="utf-8")
    env = without(production_env, "TWILIO_AUTH_TOKEN")
    env["TWILIO_AUTH_TOKEN_FILE"] = str(token_file)

    result = show(tmp_path, env, "TWILIO_AUTH_TOKEN")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "token-from-file"


def test_it_turns_transport_security_on_without_debug(tmp_path, production_env):
    result = show(
        tmp_path,
        production_env,
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
        "ALLOWED_HOSTS",
        "CELERY_TASK_ALWAYS_EAGER",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True True True 31536000 ['nes.example.gov.tr'] False"


def test_it_refuses_to_start_without_vault_keys_when_debug_is_off(
    tmp_path: Path, production_env: dict[str, str]
) -> None:
    result = manage(tmp_path, without(production_env, "VAULT_KEYS"), "check")

    assert result.returncode != 0
    assert "VAULT_KEYS (or VAULT_KEYS_FILE) must be set when DEBUG is off." in result.stderr


# -- secure defaults outside DEBUG: no SMS or e-mail backend that prints secrets by accident ----


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        pytest.param(
            "SMS_BACKEND",
            "SMS_BACKEND must be set when DEBUG is off: twilio (with the TWILIO_* variables), or "
            "console, file or locmem",
            id="sms-backend",
        ),
        pytest.param(
            "EMAIL_URL",
            "EMAIL_URL (or EMAIL_URL_FILE) must be set when DEBUG is off: smtp://, smtp+tls:// "
            "or smtp+ssl://",
            id="email-url",
        ),
    ],
)
def test_it_refuses_to_start_without_sms_or_email_backend_when_debug_is_off(
    tmp_path, production_env, missing, message
):
    result = manage(tmp_path, without(production_env, missing), "check")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_it_keeps_the_printing_backends_as_the_embedded_default_with_debug(tmp_path):
    result = show(
        tmp_path, {"DEBUG": "true"}, "SMS_BACKEND", "EMAIL_BACKEND", "DEV_BACKENDS_SHOW_SECRETS"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["file", "nesportal.mail.RedactingConsoleBackend", "True"]


def test_it_reads_email_url_from_a_file(tmp_path, production_env):
    url_file = tmp_path / "email_url"
    url_file.write_text("smtp+ssl://portal:from-the-file@mail.example.gov.tr:465\n", "utf-8")
    env = {**without(production_env, "EMAIL_URL"), "EMAIL_URL_FILE": str(url_file)}

    result = show(tmp_path, env, "EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_PASSWORD", "EMAIL_USE_SSL")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["mail.example.gov.tr", "465", "from-the-file", "True"]


@pytest.mark.parametrize(
    ("email_url", "backend"),
    [
        ("consolemail://", "nesportal.mail.RedactingConsoleBackend"),
        ("filemail:///var/tmp/nes-mail", "nesportal.mail.RedactingFileBackend"),
        ("dummymail://", "django.core.mail.backends.dummy.EmailBackend"),
    ],
)
def test_it_warns_on_check_deploy_about_an_email_backend_that_delivers_nothing(
    tmp_path, production_env, email_url, backend
):
    result = check_deploy(tmp_path, {**production_env, "EMAIL_URL": email_url})

    assert result.returncode != 0
    assert "accounts.W003" in result.stderr
    assert backend in result.stderr
    assert "accounts.W001" not in result.stderr


def test_it_prefixes_secure_cookies_with_host(tmp_path, production_env):
    result = show(
        tmp_path, production_env, "SESSION_COOKIE_NAME", "CSRF_COOKIE_NAME", "LANGUAGE_COOKIE_NAME"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "__Host-nes_session",
        "__Host-nes_csrftoken",
        "__Host-nes_language",
    ]


def test_it_names_cookies_without_the_prefix_when_not_secure(tmp_path):
    result = show(tmp_path, {"DEBUG": "true"}, "SESSION_COOKIE_NAME", "CSRF_COOKIE_NAME")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["nes_session", "nes_csrftoken"]  # browsers refuse __Host-
    # cookies over plain HTTP


SEND_SECRETS = """
import os
from django.contrib.auth.models import User
from django.test import RequestFactory
from accounts.models import SmsChallenge
from accounts.otp import expected_code, issue_challenge
from accounts.profile import start_email_change
from accounts.services import create_reset_link
from accounts.tokens import reset_link_token
from audit.actor import Actor
from nesportal.testing.factories import CitizenFactory

citizen = CitizenFactory()
challenge, _binding = issue_challenge(citizen, SmsChallenge.Purpose.LOGIN)
link = create_reset_link(citizen, agent=User.objects.create_user("agent"), reason="test")
request = RequestFactory().post("/bilgi-guncelle/e-posta/")
request.citizen = citizen
start_email_change(citizen, "yeni.adres@example.com", actor=Actor.from_request(request))
with open(os.environ["SECRETS_OUT"], "w") as fh:
    fh.write(expected_code(challenge) + " " + reset_link_token(link))
"""


@pytest.mark.parametrize(
    ("sms_backend", "email_url"),
    [("file", "filemail://{mail_dir}"), ("console", "consolemail://")],
)
def test_it_never_prints_or_stores_codes_or_link_tokens_without_debug(
    tmp_path, sms_backend, email_url
):
    """A real login code, reset link and e-mail confirmation through the service functions, with
    the development backends chosen explicitly in production mode (DEBUG off)."""
    mail_dir = tmp_path / "mail"
    outbox = tmp_path / "sms-outbox.jsonl"
    secrets_out = tmp_path / "secrets.txt"
    env = {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "VAULT_KEYS": "prod-1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "ALLOWED_HOSTS": "nes.example.gov.tr",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        "SMS_BACKEND": sms_backend,
        "SMS_OUTBOX_PATH": str(outbox),
        "EMAIL_URL": email_url.format(mail_dir=mail_dir),
        "SECRETS_OUT": str(secrets_out),
        "LOG_LEVEL": "DEBUG",
    }
    migrated = manage(tmp_path, env, "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr

    result = manage(tmp_path, env, "shell", "--no-imports", "-c", SEND_SECRETS)

    assert result.returncode == 0, result.stderr
    code, token = secrets_out.read_text().split()
    written = result.stdout + result.stderr
    if sms_backend == "file":
        written += outbox.read_text(encoding="utf-8")
        written += "".join(p.read_text(encoding="utf-8") for p in mail_dir.iterdir())
    # All three went out, readable but masked.
    assert "••• NES Portal giriş kodunuz." in written
    assert "/guvenlik-sozcugu/baglanti/•••/" in written
    assert "/bilgi-guncelle/e-posta/onay/•••/" in written
    assert code not in written
    assert token not in written
    assert not re.search(r"/onay/[\w-]{20,}", written)
