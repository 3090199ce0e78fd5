"""What integrators get: the ``seed_demo`` command and the ``nesportal.testing`` pytest plugin."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import uuid
from io import StringIO
from pathlib import Path

import pyotp
import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import RequestFactory
from django.utils import timezone

from accounts.identity import is_valid_tckn
from accounts.models import CALL_CENTRE_GROUP, Citizen, SmsChallenge
from accounts.otp import expected_code, issue_challenge
from accounts.services import check_security_word
from audit.actor import Actor
from certificates.models import Certificate
from nesportal.demo import DEMO_CITIZENS, DEMO_STAFF, STATES
from nesportal.testing import sms_code
from nesportal.testing.factories import DEFAULT_SECURITY_WORD, CitizenFactory

pytestmark = pytest.mark.django_db

# "  10000000146  Kerimcan Zeytin   Güvenlik Sözcüğü: zeytin-dalı-42   +905320000012"
CITIZEN_LINE = re.compile(r"^\s+(\S+)\s+.+?\s+Güvenlik Sözcüğü: (\S+)\s+(\+\d+)$", re.M)
# "  cagri        parola: Cagri-Demo-2026!       Çağrı Merkezi temsilcisi"
TOTP_LINE = re.compile(
    r"^\s+(\S+)\s+parola: .*\n\s+kimlik doğrulayıcı anahtarı \(TOTP\): ([A-Z2-7 ]+)$", re.M
)
STAFF_LINE = re.compile(r"^\s+(\S+)\s+parola: (\S+)\s+", re.M)


@pytest.fixture(autouse=True)
def _pki(demo_pki):
    """seed_demo issues certificates: from a throw-away CA, never into the checkout's var/."""
    return demo_pki


BACKUP_LINE = re.compile(r"yedek kodlar \(her biri bir kez\): .*$", re.M)
CERTIFICATE_SECTION = re.compile(r"^Demo sertifikalar.*?(?=^Yönetim paneli)", re.M | re.S)


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def login_request():
    return RequestFactory().post("/giris/", REMOTE_ADDR="127.0.0.1")


def test_it_seeds_the_demo_citizens_and_prints_their_secrets():
    output = seed("--force")

    printed = CITIZEN_LINE.findall(output)
    assert [(i, w) for i, w, _ in printed] == [(c.identifier, c.word) for c in DEMO_CITIZENS]
    assert Citizen.objects.count() == len(DEMO_CITIZENS)
    for identifier, word, phone in printed:
        citizen = Citizen.objects.by_identifier(identifier).get()
        assert citizen.mobile_phone == phone
        assert citizen.security_word_hash.startswith("argon2")
        assert word not in citizen.security_word_hash


def test_it_prints_words_that_really_log_in():
    output = seed("--force")

    for identifier, word, _ in CITIZEN_LINE.findall(output):
        citizen = check_security_word(identifier, word, actor=Actor.from_request(login_request()))
        assert citizen is not None, identifier
        assert citizen.identifier == identifier
        assert citizen.failure_count == 0


def test_it_makes_valid_demo_citizens():
    seed("--force")

    citizens = list(Citizen.objects.all())
    for citizen in citizens:
        citizen.full_clean()
    assert {c.tckn for c in citizens if c.tckn} <= {c.identifier for c in DEMO_CITIZENS}
    assert all(is_valid_tckn(c.tckn) for c in citizens if c.tckn)
    assert [c.passport_no for c in citizens if c.passport_no] == ["U12345678"]


def test_it_is_idempotent():
    user_model = get_user_model()
    first = seed("--force")
    counts = (Citizen.objects.count(), user_model.objects.count())
    certificates = Certificate.objects.count()
    pks = set(Citizen.objects.values_list("pk", flat=True))

    second = seed("--force")

    assert (Citizen.objects.count(), user_model.objects.count()) == counts
    assert counts == (len(DEMO_CITIZENS), len(DEMO_STAFF))
    assert set(Citizen.objects.values_list("pk", flat=True)) == pks
    # Certificates are issued once per citizen: the second run issues none and lists none.
    assert certificates == len(DEMO_CITIZENS) * len(STATES)
    assert Certificate.objects.count() == certificates
    assert CERTIFICATE_SECTION.search(first)
    assert not CERTIFICATE_SECTION.search(second)
    # Backup codes are new on every run (only their digests are kept, so old ones cannot be
    # printed again); everything else is the same.
    assert BACKUP_LINE.sub("", second) == BACKUP_LINE.sub("", CERTIFICATE_SECTION.sub("", first))
    for identifier, word, _ in CITIZEN_LINE.findall(second):
        assert (
            check_security_word(identifier, word, actor=Actor.from_request(login_request()))
            is not None
        )


def test_it_does_not_unlock_a_locked_demo_citizen_when_run_again():
    seed("--force")
    demo = DEMO_CITIZENS[0]
    for _ in range(3):
        check_security_word(demo.identifier, "yanlış", actor=Actor.from_request(login_request()))
    assert Citizen.objects.get(tckn=demo.identifier).is_locked

    seed("--force")

    # Unlocking is the call centre's job, with a reason in the audit log.
    assert Citizen.objects.get(tckn=demo.identifier).is_locked


def test_it_makes_an_agent_who_is_only_in_the_call_centre_group():
    output = seed("--force")

    staff = dict(STAFF_LINE.findall(output))
    agent = get_user_model().objects.get(username="cagri")
    assert [g.name for g in agent.groups.all()] == [CALL_CENTRE_GROUP]
    assert agent.is_staff
    assert not agent.is_superuser
    assert not agent.user_permissions.exists()
    assert agent.has_perm("accounts.unlock_citizen")
    assert not agent.has_perm("accounts.change_citizen")
    assert agent.check_password(staff["cagri"])
    admin_user = get_user_model().objects.get(username="yonetici")
    assert admin_user.is_superuser
    assert admin_user.check_password(staff["yonetici"])


def test_it_lets_the_demo_agent_log_into_admin(client):
    output = seed("--force")
    password = dict(STAFF_LINE.findall(output))["cagri"]

    secret = dict(TOTP_LINE.findall(output))["cagri"].replace(" ", "")

    response = client.post(
        "/admin/login/?next=/admin/", {"username": "cagri", "password": password, "next": "/admin/"}
    )
    assert response.status_code == 302
    assert response.url == "/admin/dogrulama/"
    assert client.get("/admin/accounts/citizen/").status_code == 302, "not with a password alone"

    response = client.post("/admin/dogrulama/", {"token": pyotp.TOTP(secret).now()})
    assert response.status_code == 302
    assert response.url == "/admin/"
    assert client.get("/admin/accounts/citizen/").status_code == 200


def test_demo_totp_prints_the_code_the_printed_secret_gives(settings):
    output = seed("--force")
    secret = dict(TOTP_LINE.findall(output))["cagri"].replace(" ", "")
    settings.DEBUG = True
    out = StringIO()

    with time_machine.travel(timezone.now(), tick=False):
        call_command("demo_totp", "cagri", stdout=out)
        assert out.getvalue().split()[0] == pyotp.TOTP(secret).now()

    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG only"):
        call_command("demo_totp", "cagri", stdout=StringIO())


def test_it_refuses_to_seed_without_debug_unless_forced(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG only"):
        seed()

    assert not Citizen.objects.exists()
    assert not get_user_model().objects.filter(username="cagri").exists()


def test_it_seeds_with_debug_on_without_force(settings):
    settings.DEBUG = True

    output = seed()

    assert Citizen.objects.count() == len(DEMO_CITIZENS)
    assert len(CITIZEN_LINE.findall(output)) == len(DEMO_CITIZENS)


def test_it_gives_integrators_a_logged_in_client(citizen_client, citizen):
    response = citizen_client.get("/islemler/")

    assert response.status_code == 200
    assert f"Sayın {citizen.greeting_name};" in response.content.decode()


def test_it_extracts_the_newest_code_from_the_outbox(
    citizen, sms_outbox, django_capture_on_commit_callbacks, time_machine
):
    time_machine.move_to("2026-03-02 09:00:00+03:00", tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        first, _ = issue_challenge(citizen, SmsChallenge.Purpose.LOGIN)
    time_machine.shift(61)
    with django_capture_on_commit_callbacks(execute=True):
        second, _ = issue_challenge(citizen, SmsChallenge.Purpose.LOGIN)

    assert len(sms_outbox) == 2
    assert sms_code(sms_outbox) == expected_code(second)
    assert sms_code(sms_outbox[:1]) == expected_code(first)
    assert sms_code(sms_outbox, to=citizen.mobile_phone) == expected_code(second)


def test_it_filters_codes_by_recipient_and_fails_loudly_when_there_is_none():
    outbox = [
        {"to": "+905320000001", "body": "Kodunuz: 111111."},
        {"to": "+905320000002", "body": "Kodunuz: 222222."},
        {"to": "+905320000001", "body": "Hesabınız kilitlendi."},
    ]

    assert sms_code(outbox) == "222222"
    assert sms_code(outbox, to="+905320000001") == "111111"
    with pytest.raises(LookupError):
        sms_code(outbox, to="+905320000003")
    with pytest.raises(LookupError):
        sms_code([])


def test_it_empties_the_outbox_for_each_test(sms_outbox):
    from accounts import sms

    assert sms_outbox == []
    assert sms_outbox is sms.outbox
    assert settings.SMS_BACKEND == "locmem"


def test_it_makes_passport_citizens():
    citizen = CitizenFactory(passport=True)

    citizen.full_clean()
    assert citizen.tckn is None
    assert citizen.passport_no
    assert citizen.identifier == citizen.passport_no
    found = check_security_word(
        citizen.passport_no, DEFAULT_SECURITY_WORD, actor=Actor.from_request(login_request())
    )
    assert found == citizen


def test_it_makes_valid_distinct_tckns():
    citizens = CitizenFactory.create_batch(25)

    tckns = [c.tckn for c in citizens]
    assert len(set(tckns)) == 25
    assert all(is_valid_tckn(t) for t in tckns)
    for citizen in citizens:
        citizen.full_clean()  # phone, TCKN and the one-identity constraint


def test_it_makes_citizens_with_a_chosen_security_word():
    citizen = CitizenFactory(security_word="kendi-sözcüğüm")

    assert (
        check_security_word(
            citizen.tckn, "kendi-sözcüğüm", actor=Actor.from_request(login_request())
        )
        == citizen
    )
    assert citizen.security_word_hash.startswith("argon2")


PLUGIN_TEST = """
from nesportal.testing import sms_code


def test_menu_for_a_logged_in_citizen(citizen_client, citizen, sms_outbox):
    response = citizen_client.get("/islemler/")
    assert response.status_code == 200
    assert citizen.greeting_name in response.content.decode()
    assert sms_outbox == []


def test_code_from_the_outbox(citizen, sms_outbox, django_capture_on_commit_callbacks):
    from accounts.models import SmsChallenge
    from accounts.otp import expected_code, issue_challenge

    with django_capture_on_commit_callbacks(execute=True):
        challenge, _ = issue_challenge(citizen, SmsChallenge.Purpose.LOGIN)
    assert sms_code(sms_outbox) == expected_code(challenge)


def test_agent_client(agent_client):
    assert agent_client.get("/admin/accounts/citizen/").status_code == 200
"""


def _plugin_env(tmp_path: Path) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "nesportal.test_settings",
        "VAR_DIR": str(tmp_path / "var"),
    }
    if connection.vendor == "postgresql":
        # Same server, its own database: this run's test database is in use by us.
        db = settings.DATABASES["default"]
        name = f"nes_plugin_{uuid.uuid4().hex[:8]}"
        env["DATABASE_URL"] = (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT'] or 5432}/{name}"
        )
    return env


@pytest.mark.parametrize("how", ["-p", "conftest"])
def test_it_works_as_a_plugin_in_another_project(tmp_path, how):
    project = tmp_path / "other_team"
    project.mkdir()
    (project / "test_with_nesportal.py").write_text(textwrap.dedent(PLUGIN_TEST))
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    if how == "-p":
        args += ["-p", "nesportal.testing"]
    else:
        (project / "conftest.py").write_text('pytest_plugins = ["nesportal.testing"]\n')

    result = subprocess.run(
        [*args, "test_with_nesportal.py"],
        cwd=project,
        env=_plugin_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
