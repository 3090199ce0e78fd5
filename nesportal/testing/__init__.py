"""Test fixtures for NES Portal, usable as a pytest plugin.

Installed with the package, it is registered as the ``nesportal.testing`` pytest plugin
(entry point ``pytest11``); in another project add ``pytest_plugins = ["nesportal.testing"]`` to
conftest.py (or pass ``-p nesportal.testing``) if it is not picked up. Fixtures:

* ``sms_outbox`` – the locmem SMS backend's outbox (a list of dicts: to, body, id, at), emptied
  first; ``sms_code(outbox)`` returns the newest code in it.
* ``citizen`` / ``citizen_factory`` – a saved citizen (security word ``DEFAULT_SECURITY_WORD``).
* ``citizen_client`` – a Django test client logged in as ``citizen``; ``login_as(client, c)``
  logs any client in without going through captcha and SMS.
* ``call_centre_agent`` / ``agent_client`` – a staff user in the "Çağrı Merkezi" group only.
* ``captcha_test_mode`` – the captcha accepts the answer "passed" for this test.
* ``demo_pki`` – a throw-away root CA (with its ARL), issuing CA and OCSP signer (made once per
  test session) that the settings point at; ``certificate_factory(citizen, state=…)`` issues a real
  certificate from it in any state (pending, active, suspended, revoked, expired) and returns
  ``(certificate_row, private_key)``.

Nothing here imports Django at import time, so the plugin is harmless in other projects.
"""

from __future__ import annotations

import re
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


def login_as(client: Client, citizen: Citizen) -> Client:
    """Log ``client`` in as ``citizen`` directly (for tests of pages behind the login)."""
    from django.conf import settings

    from accounts.services import SESSION_CITIZEN, SESSION_CITIZEN_HASH, session_hash

    session = client.session
    session[SESSION_CITIZEN] = citizen.pk
    session[SESSION_CITIZEN_HASH] = session_hash(citizen)
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
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
def call_centre_agent(db: None) -> Any:
    from .factories import CallCentreAgentFactory

    return CallCentreAgentFactory()


@pytest.fixture
def agent_client(client: Client, call_centre_agent: Any) -> Client:
    client.force_login(call_centre_agent)
    return client


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
