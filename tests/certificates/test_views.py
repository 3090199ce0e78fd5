"""Sertifika Listele, details, PEM, Kullanıma Aç, Askıya Al and Askıdan İndir through the pages.

Each transition is checked on the database row, the audit log and the holder's SMS notice; each
refusal shows the model's message with status 409 and changes nothing; and every certificate URL
is scoped to the logged-in citizen (another citizen's serial is a 404 on GET and on POST).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from accounts.models import SmsMessage
from audit.models import AuditEvent
from certificates.models import Certificate
from certificates.services import suspend_certificate
from certificates.views import expiry_sentence
from nesportal.testing import login_as

pytestmark = pytest.mark.django_db

LIST = reverse("certificates:list")
OPEN_LIST = reverse("certificates:open_list")
REINSTATE_LIST = reverse("certificates:reinstate_list")
REVOKE_START = reverse("certificates:revoke_start")
LOGIN = reverse("accounts:login")


def url(name: str, cert: Certificate) -> str:
    return reverse(f"certificates:{name}", args=[cert.serial_number])


def actions(citizen: Any, serial: str) -> list[str]:
    return list(
        AuditEvent.objects.filter(citizen=citizen, data__serial=serial)
        .order_by("pk")
        .values_list("action", flat=True)
    )


def notices(citizen: Any) -> list[str]:
    return list(
        SmsMessage.objects.filter(citizen=citizen)
        .order_by("created_at")
        .values_list("kind", flat=True)
    )


@pytest.fixture
def active(citizen: Any, certificate_factory: Any) -> Certificate:
    return certificate_factory(citizen, "active")[0]


@pytest.fixture
def other_citizen_cert(citizen_factory: Any, certificate_factory: Any) -> Certificate:
    return certificate_factory(citizen_factory(), "active")[0]


# --- Sertifika Listele -------------------------------------------------------------------------


def test_it_lists_the_citizens_certificates_newest_first(
    citizen_client: Client, citizen: Any, certificate_factory: Any, other_citizen_cert: Any
) -> None:
    now = timezone.now()
    expired, _ = certificate_factory(citizen, "expired", now=now - dt.timedelta(days=60))
    revoked, _ = certificate_factory(citizen, "revoked", now=now - dt.timedelta(days=25))
    active, _ = certificate_factory(citizen, "active", now=now - dt.timedelta(days=20))
    suspended, _ = certificate_factory(
        citizen, "suspended", kind=Certificate.Kind.MOBILE, now=now - dt.timedelta(days=5)
    )
    pending, _ = certificate_factory(citizen, "pending")

    response = citizen_client.get(LIST)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Sertifika Listele" in html
    order = [pending, suspended, active, revoked, expired]
    positions = [html.index(f'href="{c.get_absolute_url()}"') for c in order]
    assert positions == sorted(positions)
    for label in ["Kullanıma açılmadı", "Askıda", "Geçerli", "İptal edildi", "Süresi doldu"]:
        assert label in html
    assert "Mobil Nitelikli Elektronik Sertifika" in html
    assert "Nitelikli Elektronik Sertifika (AKİS kart)" in html
    assert timezone.localtime(active.not_before).strftime("%d.%m.%Y") in html
    assert timezone.localtime(active.not_after).strftime("%d.%m.%Y") in html
    assert other_citizen_cert.serial_number not in html
    assert response["Cache-Control"].startswith("max-age=0")


def test_it_says_so_when_there_are_no_certificates(citizen_client: Client) -> None:
    response = citizen_client.get(LIST)

    assert response.status_code == 200
    assert "Adınıza üretilmiş bir sertifika bulunmuyor." in response.content.decode()


def test_the_menu_links_to_the_certificate_pages(citizen_client: Client) -> None:
    html = citizen_client.get(reverse("accounts:menu")).content.decode()

    for label, target in [
        ("Sertifikamı Kullanıma Aç", OPEN_LIST),
        ("Sertifikamı İptal Et", REVOKE_START),
        ("Sertifika Listele", LIST),
        ("Askıdan İndir", REINSTATE_LIST),
    ]:
        assert f'<a class="menu-button" href="{target}">{label}</a>' in html


@pytest.mark.parametrize(
    "path",
    [
        LIST,
        OPEN_LIST,
        REINSTATE_LIST,
        REVOKE_START,
        "/sertifikalar/ab12/",
        "/sertifikalar/ab12/pem/",
    ],
)
def test_the_pages_need_a_login(client: Client, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == LOGIN


# --- details and PEM -----------------------------------------------------------------------------


def test_the_detail_page_shows_what_is_in_the_certificate(
    citizen_client: Client, citizen: Any, active: Certificate
) -> None:
    response = citizen_client.get(active.get_absolute_url())

    assert response.status_code == 200
    html = response.content.decode()
    parsed = x509.load_der_x509_certificate(bytes(active.der))
    assert active.serial_number in html
    assert f"{parsed.serial_number:X}" in html
    assert f"PNOTR-{citizen.tckn}" in html  # subject serialNumber (ETSI EN 319 412-1)
    assert citizen.first_name in html and citizen.last_name in html
    issuer_cn = parsed.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert issuer_cn in html
    assert "nonRepudiation" in html
    assert "0.4.0.194112.1.2" in html  # QCP-n-qscd
    for statement in ["QcCompliance", "QcSSCD", "QcType: esign"]:
        assert statement in html
    assert active.fingerprint_sha256 in html
    assert "SHA-256 parmak izi" in html
    assert "Sertifikam ne zaman sona eriyor?" in html
    assert "Sertifikanızın geçerliliği " in html and "gün kaldı" in html
    assert f'href="{url("pem", active)}"' in html
    # Actions for an active certificate: Askıya Al (confirmation page) and İptal Et; no others.
    assert f'href="{url("suspend", active)}"' in html
    assert f'href="{REVOKE_START}?seri={active.serial_number}"' in html
    assert f'action="{url("reinstate", active)}"' not in html
    assert f'action="{url("open", active)}"' not in html
    # History: opened by the holder.
    assert "Kullanıma açılmadı → Geçerli" in html
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.parametrize(
    ("state", "expected", "absent"),
    [
        ("pending", ["open"], ["suspend", "reinstate"]),
        ("suspended", ["reinstate"], ["open", "suspend"]),
        ("revoked", [], ["open", "suspend", "reinstate"]),
        ("expired", [], ["open", "suspend", "reinstate"]),
    ],
)
def test_the_detail_page_offers_only_the_actions_of_the_state(
    citizen_client: Client,
    citizen: Any,
    certificate_factory: Any,
    state: str,
    expected: list[str],
    absent: list[str],
) -> None:
    cert, _ = certificate_factory(citizen, state)

    html = citizen_client.get(cert.get_absolute_url()).content.decode()

    for name in expected:
        assert f'action="{url(name, cert)}"' in html
    for name in absent:
        assert url(name, cert) not in html
    revocable = state in ("pending", "suspended")
    assert (f"{REVOKE_START}?seri=" in html) is revocable
    if state == "expired":
        assert "tarihinde sona erdi." in html
    for form_start in html.split("<form")[1:]:
        if 'method="post"' in form_start.split(">")[0]:
            assert "csrfmiddlewaretoken" in form_start.split("</form>")[0]


def test_expiry_is_said_in_plain_words(active: Certificate) -> None:
    with translation.override("tr"):
        until = timezone.localtime(active.not_after)
        sentence = expiry_sentence(active, now=active.not_after - dt.timedelta(days=1205, hours=2))
        assert sentence == (
            f"Sertifikanızın geçerliliği {until:%d.%m.%Y} tarihinde sona erecek (1.205 gün kaldı)."
        )
        assert expiry_sentence(active, now=active.not_after + dt.timedelta(days=3)) == (
            f"Sertifikanızın geçerliliği {until:%d.%m.%Y} tarihinde sona erdi."
        )
    with translation.override("en"):
        sentence = expiry_sentence(active, now=active.not_after - dt.timedelta(days=1205, hours=2))
        assert "1,205" in sentence


def test_the_pem_download_is_the_certificate(citizen_client: Client, active: Certificate) -> None:
    response = citizen_client.get(url("pem", active))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-pem-file"
    assert response["Content-Disposition"] == (f'attachment; filename="{active.serial_number}.pem"')
    loaded = x509.load_pem_x509_certificate(response.content)
    assert loaded.public_bytes(serialization.Encoding.DER) == bytes(active.der)
    assert format(loaded.serial_number, "x") == active.serial_number


def test_an_upper_case_serial_finds_the_certificate(
    citizen_client: Client, active: Certificate
) -> None:
    response = citizen_client.get(f"/sertifikalar/{active.serial_number.upper()}/")

    assert response.status_code == 200


# --- Sertifikamı Kullanıma Aç ------------------------------------------------------------------


def test_it_opens_a_pending_certificate(
    citizen_client: Client,
    citizen: Any,
    certificate_factory: Any,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    pending, _ = certificate_factory(citizen, "pending")
    listing = citizen_client.get(OPEN_LIST).content.decode()
    assert f'action="{url("open", pending)}"' in listing

    with django_capture_on_commit_callbacks(execute=True):
        response = citizen_client.post(url("open", pending))

    assert response.status_code == 302
    assert response["Location"] == pending.get_absolute_url()
    pending.refresh_from_db()
    assert pending.status == Certificate.Status.ACTIVE
    assert pending.opened_at is not None
    assert actions(citizen, pending.serial_number)[-1] == "nes.certificate.opened"
    assert notices(citizen)[-1] == SmsMessage.Kind.CERT_OPENED
    assert sms_outbox[-1]["to"] == citizen.mobile_phone
    assert (
        f"{pending.serial_number} seri numaralı sertifikanız kullanıma açıldı"
        in (sms_outbox[-1]["body"])
    )
    page = citizen_client.get(response["Location"]).content.decode()
    assert "kullanıma açıldı" in page


def test_it_refuses_to_open_while_the_old_certificate_is_valid(
    citizen_client: Client, citizen: Any, certificate_factory: Any, active: Certificate
) -> None:
    pending, _ = certificate_factory(citizen, "pending")

    response = citizen_client.post(url("open", pending))

    assert response.status_code == 409
    html = response.content.decode()
    with translation.override("tr"):
        date = date_format(timezone.localtime(active.not_after), "DATETIME_FORMAT")
    assert date in html
    assert "tarihinden itibaren kullanıma açabilirsiniz" in html
    assert active.serial_number in html
    pending.refresh_from_db()
    assert pending.status == Certificate.Status.PENDING
    assert actions(citizen, pending.serial_number)[-1] == "nes.certificate.refused"
    assert SmsMessage.Kind.CERT_OPENED not in notices(citizen)


def test_the_open_list_shows_only_pending_certificates(
    citizen_client: Client, citizen: Any, active: Certificate, certificate_factory: Any
) -> None:
    pending, _ = certificate_factory(citizen, "pending", kind=Certificate.Kind.MOBILE)

    html = citizen_client.get(OPEN_LIST).content.decode()

    assert pending.serial_number in html
    assert active.serial_number not in html


# --- Askıya Al / Askıdan İndir -------------------------------------------------------------------


def test_it_suspends_after_a_confirmation_page_and_lifts_the_suspension(
    citizen_client: Client,
    citizen: Any,
    active: Certificate,
    sms_outbox: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    confirmation = citizen_client.get(url("suspend", active))
    assert confirmation.status_code == 200
    html = confirmation.content.decode()
    assert active.serial_number in html
    assert "Askıdayken bu sertifikayla elektronik imza atılamaz" in html
    assert f'action="{url("suspend", active)}"' in html
    active.refresh_from_db()
    assert active.status == Certificate.Status.ACTIVE  # a GET changes nothing

    with django_capture_on_commit_callbacks(execute=True):
        response = citizen_client.post(url("suspend", active))

    assert response.status_code == 302
    assert response["Location"] == active.get_absolute_url()
    active.refresh_from_db()
    assert active.status == Certificate.Status.SUSPENDED
    assert active.suspended_by == Certificate.SuspendedBy.HOLDER
    assert actions(citizen, active.serial_number)[-1] == "nes.certificate.suspended"
    assert notices(citizen)[-1] == SmsMessage.Kind.CERT_SUSPENDED
    assert "askıya alındı" in sms_outbox[-1]["body"]
    assert active.serial_number in citizen_client.get(REINSTATE_LIST).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = citizen_client.post(url("reinstate", active))

    assert response.status_code == 302
    active.refresh_from_db()
    assert active.status == Certificate.Status.ACTIVE
    assert active.suspended_at is None
    assert actions(citizen, active.serial_number)[-1] == "nes.certificate.reinstated"
    assert notices(citizen)[-1] == SmsMessage.Kind.CERT_REINSTATED
    assert "askıdan indirildi" in sms_outbox[-1]["body"]
    detail = citizen_client.get(active.get_absolute_url()).content.decode()
    assert "askıdan indirildi ve yeniden kullanılabilir" in detail
    assert "Geçerli → Askıda" in detail and "Askıda → Geçerli" in detail


def test_suspending_twice_is_refused(
    citizen_client: Client, citizen: Any, certificate_factory: Any
) -> None:
    suspended, _ = certificate_factory(citizen, "suspended")

    response = citizen_client.post(url("suspend", suspended))

    assert response.status_code == 409
    assert "Yalnızca geçerli durumdaki bir sertifika askıya alınabilir." in (
        response.content.decode()
    )
    suspended.refresh_from_db()
    assert suspended.status == Certificate.Status.SUSPENDED


def test_the_holder_cannot_lift_a_suspension_made_by_the_ca(
    citizen_client: Client, citizen: Any, active: Certificate
) -> None:
    suspend_certificate(active)  # no citizen: the CA suspended it
    active.refresh_from_db()
    assert active.suspended_by == Certificate.SuspendedBy.CA

    listing = citizen_client.get(REINSTATE_LIST).content.decode()
    assert url("reinstate", active) not in listing
    assert "yalnızca 444 5 576 numaralı Çağrı Merkezimiz" in listing
    detail = citizen_client.get(active.get_absolute_url()).content.decode()
    assert url("reinstate", active) not in detail

    response = citizen_client.post(url("reinstate", active))

    assert response.status_code == 409
    assert "444 5 576" in response.content.decode()
    active.refresh_from_db()
    assert active.status == Certificate.Status.SUSPENDED
    assert actions(citizen, active.serial_number)[-1] == "nes.certificate.refused"
    assert SmsMessage.Kind.CERT_REINSTATED not in notices(citizen)


def test_a_revoked_certificate_cannot_be_reinstated(
    citizen_client: Client, citizen: Any, certificate_factory: Any
) -> None:
    revoked, _ = certificate_factory(citizen, "revoked")

    response = citizen_client.post(url("reinstate", revoked))

    assert response.status_code == 409
    assert "Bu sertifika askıda değil." in response.content.decode()
    revoked.refresh_from_db()
    assert revoked.status == Certificate.Status.REVOKED


def test_state_changes_need_post(citizen_client: Client, active: Certificate) -> None:
    for name in ["open", "reinstate"]:
        assert citizen_client.get(url(name, active)).status_code == 405
    active.refresh_from_db()
    assert active.status == Certificate.Status.ACTIVE


def test_state_changes_need_the_csrf_token(citizen: Any, active: Certificate) -> None:
    client = login_as(Client(enforce_csrf_checks=True), citizen)

    response = client.post(url("suspend", active))

    assert response.status_code == 403
    active.refresh_from_db()
    assert active.status == Certificate.Status.ACTIVE


# --- scoping ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["detail", "pem", "suspend", "revoke_confirm", "revoke_code", "revoke_done"]
)
def test_another_citizens_certificate_is_not_found_on_get(
    citizen_client: Client, other_citizen_cert: Certificate, name: str
) -> None:
    response = citizen_client.get(url(name, other_citizen_cert))

    assert response.status_code == 404
    assert other_citizen_cert.fingerprint_sha256 not in response.content.decode()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("open", {}),
        ("suspend", {}),
        ("reinstate", {}),
        ("revoke_confirm", {}),
        ("revoke_code", {"code": "123456"}),
        ("revoke_code_resend", {}),
    ],
)
def test_another_citizens_certificate_is_not_found_on_post(
    citizen_client: Client,
    citizen_factory: Any,
    certificate_factory: Any,
    name: str,
    data: dict[str, str],
) -> None:
    other = citizen_factory()
    state = {"open": "pending", "reinstate": "suspended"}.get(name, "active")
    cert, _ = certificate_factory(other, state)
    before = AuditEvent.objects.count(), SmsMessage.objects.count()

    response = citizen_client.post(url(name, cert), data)

    assert response.status_code == 404
    cert.refresh_from_db()
    assert cert.status == state
    assert (AuditEvent.objects.count(), SmsMessage.objects.count()) == before


def test_another_citizens_certificate_cannot_be_picked_for_revocation(
    citizen_client: Client, other_citizen_cert: Certificate
) -> None:
    response = citizen_client.post(
        REVOKE_START,
        {"certificate": other_citizen_cert.serial_number, "reason": "key_compromise"},
    )

    assert response.status_code == 404
    assert "nes_pending_revoke" not in citizen_client.session


def test_an_unknown_serial_is_not_found(citizen_client: Client) -> None:
    assert citizen_client.get("/sertifikalar/abcdef0123/").status_code == 404
    assert citizen_client.get("/sertifikalar/not-hex/").status_code == 404


def test_the_detail_page_renders_the_certificate_content_once_per_worker_and_language(
    citizen_client, citizen, certificate_factory
):
    """The DER never changes, so its description is parsed and rendered once per worker and
    language; callers of describe_der get their own copy."""
    from certificates import pki, views

    cert, _key = certificate_factory(citizen, "active")
    views._content.cache_clear()
    url = reverse("certificates:detail", args=[cert.serial_number])

    first = citizen_client.get(url)
    second = citizen_client.get(url)

    assert first.status_code == second.status_code == 200
    assert views._content.cache_info().hits == 1
    assert "Sertifika içeriği" in second.content.decode()
    assert "PNOTR-" + citizen.tckn in second.content.decode()
    described = pki.describe_der(bytes(cert.der))
    described["subject"].clear()
    assert pki.describe_der(bytes(cert.der))["subject"], "the remembered one is untouched"
