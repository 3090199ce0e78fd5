"""Test fixtures for NES Portal, usable as a pytest plugin.

Installed with the package, it is registered as the ``nesportal.testing`` pytest plugin
(entry point ``pytest11``); in another project add ``pytest_plugins = ["nesportal.testing"]`` to
conftest.py (or pass ``-p nesportal.testing``) if it is not picked up. Fixtures:

* ``sms_outbox`` – the locmem SMS backend's outbox (a list of dicts: to, body, id, at), emptied
  first; ``sms_code(outbox)`` returns the newest code in it.
* ``citizen`` / ``citizen_factory`` – a saved citizen (security word ``DEFAULT_SECURITY_WORD``).
* ``citizen_client`` – a Django test client logged in as ``citizen``; ``login_as(client, c)``
  logs any client in without going through captcha and SMS.
* ``call_centre_agent`` / ``agent_client`` – a staff user in the "Çağrı Merkezi" group only,
  logged into admin past the second factor; ``staff_login(client, user)`` does the same for any
  staff user (pytest-django's ``admin_client`` only logs in with the password, which admin
  refuses: override it with ``staff_login(Client(), admin_user)``, as tests/conftest.py does).
* ``captcha_test_mode`` – the captcha accepts the answer "passed" for this test.
* ``demo_pki`` – a throw-away root CA (with its ARL), issuing CA and OCSP signer (made once per
  test session) that the settings point at; ``certificate_factory(citizen, state=…)`` issues a real
  certificate from it in any state (pending, active, suspended, revoked, expired) and returns
  ``(certificate_row, private_key)``.
* ``clock`` – time frozen at ``clock_start`` (a fixture: None for now; override it for a fixed
  instant), moved only by ``clock.shift(...)``/``clock.move_to(...)``; ``frozen_clock(at)`` is
  the same as a context manager. ``wrong(code)`` is a six-digit code that is not ``code``.
* ``staff_factory``, ``card_factory``, ``card_unlock_factory``, ``sms_challenge_factory``,
  ``sms_message_factory``, ``contact_change_factory``, ``reset_link_factory``,
  ``login_challenge_factory``, ``consent_factory``, ``application_factory``,
  ``audit_event_factory`` – the factories of ``nesportal.testing.factories`` (with the database).

Nothing here imports Django at import time, so the plugin is harmless in other projects.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from django.test import Client

    from accounts.models import Citizen

CODE_RE = re.compile(r"\b(\d{6})\b")


def sms_code(outbox: list[dict[str, Any]], to: str | None = None) -> str:
    """The six-digit code in the newest SMS (to ``to``, if given)."""
    for entry in reversed(outbox):
        if to is None or entry["to"] == to:
            match = CODE_RE.search(entry["body"])
            if match:
                return match.group(1)
    raise LookupError("no SMS with a code in the outbox")


def wrong(code: str) -> str:
    """A six-digit code that is certainly not ``code`` (for wrong-code tests)."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


def frozen_clock(at: datetime | None = None) -> Any:
    """Time frozen at ``at`` (default: now), as a context manager giving the traveller: move it
    with ``clock.shift(seconds or timedelta)`` or ``clock.move_to(when)``. Never sleep."""
    import time_machine
    from django.utils import timezone

    return time_machine.travel(at or timezone.now(), tick=False)


def staff_login(client: Client, user: Any) -> Client:
    """Log ``client`` into admin as the staff ``user``, past both factors: the session is
    logged in and verified by the user's authenticator (one is enrolled if the user has none).
    For tests of admin pages; the login itself is tested through its pages (tests/staff)."""
    from django_otp import DEVICE_ID_SESSION_KEY

    from staff.models import SealedTOTPDevice

    device = SealedTOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = SealedTOTPDevice.create_for(user, name="test")
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def login_as(client: Client, citizen: Citizen) -> Client:
    """Log ``client`` in as ``citizen`` directly (for tests of pages behind the login)."""
    from django.conf import settings

    from accounts.services import SESSION_CITIZEN, SESSION_CITIZEN_HASH, session_hash

    session = client.session
    session[SESSION_CITIZEN] = citizen.pk
    session[SESSION_CITIZEN_HASH] = session_hash(citizen)
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = str(session.session_key)  # saved: set
    return client


@pytest.fixture
def sms_outbox(settings: Any) -> list[dict[str, Any]]:
    from accounts import sms

    settings.SMS_BACKEND = "locmem"
    sms.outbox.clear()
    return sms.outbox


@pytest.fixture
def captcha_test_mode(settings: Any) -> None:
    settings.CAPTCHA_TEST_MODE = True


@pytest.fixture
def citizen_factory(db: None) -> Any:
    from .factories import CitizenFactory

    return CitizenFactory


@pytest.fixture
def citizen(citizen_factory: Any) -> Citizen:
    return citizen_factory()


@pytest.fixture
def citizen_client(client: Client, citizen: Citizen) -> Client:
    return login_as(client, citizen)


@pytest.fixture
def clock_start() -> datetime | None:
    """Where ``clock`` starts: None for now. Override it in a conftest for a fixed instant."""
    return None


@pytest.fixture
def clock(clock_start: datetime | None) -> Iterator[Any]:
    """Time frozen at ``clock_start`` (default now); move it with ``clock.shift(...)``."""
    with frozen_clock(clock_start) as traveller:
        yield traveller


def _factory_fixture(name: str, doc: str) -> Any:
    def fixture(db: None) -> Any:
        from . import factories

        return getattr(factories, name)

    fixture.__name__ = fixture.__qualname__ = name
    fixture.__doc__ = doc
    return pytest.fixture(fixture)


# The factories of nesportal.testing.factories, one fixture each (they need the database).
staff_factory = _factory_fixture("StaffUserFactory", "A staff user (``is_staff``).")
sms_challenge_factory = _factory_fixture(
    "SmsChallengeFactory", "An SMS code request carrying ``token`` and ``code``."
)
sms_message_factory = _factory_fixture("SmsMessageFactory", "An SMS record and its outcome.")
contact_change_factory = _factory_fixture(
    "ContactChangeFactory", "A requested e-mail (or ``phone=True``) change."
)
reset_link_factory = _factory_fixture(
    "WordResetLinkFactory", "An agent's security-word reset link carrying ``token``."
)
audit_event_factory = _factory_fixture(
    "AuditEventFactory", "An audit event appended through ``audit.log.record``."
)
login_challenge_factory = _factory_fixture(
    "LoginChallengeFactory", "An E-İmzalı Giriş challenge carrying ``token``."
)
card_factory = _factory_fixture("AkisCardFactory", "An AKİS card with PIN and PUK in the vault.")
card_unlock_factory = _factory_fixture(
    "CardUnlockFactory", "A portal unlock waiting for the card tool, with a known PIN."
)
consent_factory = _factory_fixture("ConsentFactory", "A standing E-Onay consent.")
application_factory = _factory_fixture(
    "ApplicationFactory", "An E-Onay application entered by staff, in any state."
)


@pytest.fixture
def call_centre_agent(db: None) -> Any:
    from .factories import CallCentreAgentFactory

    return CallCentreAgentFactory()


@pytest.fixture
def agent_client(client: Client, call_centre_agent: Any) -> Client:
    return staff_login(client, call_centre_agent)


@pytest.fixture(scope="session")
def _demo_pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from django.conf import settings

    from certificates import ca as ca_module
    from certificates import pki, root

    directory = tmp_path_factory.mktemp("pki")
    arl_url = ca_module.arl_url(settings.NES_CA_SLUG)
    pki.create_demo_pki(
        directory,
        arl_url=arl_url,
        root_certificate_url=ca_module.root_certificate_url(settings.NES_CA_SLUG),
    )
    root.sign_arl(
        root_certificate=directory / "root.crt",
        root_key=directory / "root.key",
        out=directory / "root.crl",
        idp_url=arl_url,  # the CRL distribution point written into the issuing CA
    )
    return directory


@pytest.fixture
def demo_pki(settings: Any, _demo_pki_dir: Any) -> Any:
    """Point the CA settings at a throw-away PKI; returns its directory (root.crt, issuing.crt…).

    The root's CRL (``root.crl``) is signed with it. Each test starts with no memory of CA
    rows or published CRLs from an earlier test's database.
    """
    from certificates import ca as ca_module
    from certificates import publication

    settings.NES_PKI_DIR = _demo_pki_dir
    settings.NES_CA_CERT_PATH = str(_demo_pki_dir / "issuing.crt")
    settings.NES_CA_KEY_PATH = str(_demo_pki_dir / "issuing.key")
    settings.NES_CA_CHAIN_PATH = str(_demo_pki_dir / "root.crt")
    settings.NES_OCSP_CERT_PATH = str(_demo_pki_dir / "ocsp.crt")
    settings.NES_OCSP_KEY_PATH = str(_demo_pki_dir / "ocsp.key")
    settings.NES_ROOT_KEY_PATH = str(_demo_pki_dir / "root.key")
    settings.NES_ARL_PATH = str(_demo_pki_dir / "root.crl")
    ca_module.forget_rows()
    publication.forget_served()
    yield _demo_pki_dir
    ca_module.forget_rows()
    publication.forget_served()


@pytest.fixture
def certificate_factory(demo_pki: Any, db: None) -> Any:
    from nesportal.demo import issue_in_state

    return issue_in_state
