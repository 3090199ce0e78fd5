"""Demo data: the citizens and staff that ``manage.py seed_demo`` creates.

The values are public on purpose (README, console): for the demo and integrators' tests only.
Running it again updates the same rows and resets their security words and passwords; it does
not touch lock state, so a citizen locked in the demo stays locked until an agent unlocks them.
Each demo citizen also gets two PIN-locked AKİS cards, one made before 01.01.2011 (unlocked
with the PUK) and one after (unlocked on the portal); their random PIN and PUK go only into
the vault and are never printed: the citizen sees them after login and an SMS code.
A demo citizen without E-Onay applications gets one waiting institution-paid first application,
entered by the demo superuser, to approve or reject on E-Onay İşlemleri.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from accounts.callcentre import ensure_call_centre_group, ensure_supervisor_group
from accounts.models import Citizen
from certificates.models import Certificate
from eonay.models import Application
from pinvault import pins, vault
from pinvault.models import AkisCard
from staff.models import HashedStaticDevice, SealedTOTPDevice


@dataclass(frozen=True)
class DemoCitizen:
    identifier: str
    first_name: str
    last_name: str
    word: str
    phone: str
    birth_date: dt.date
    email: str
    address: str
    language: str = "tr"  # of their SMS and e-mails (Citizen.language)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class DemoStaff:
    username: str
    password: str
    role: str
    superuser: bool = False
    supervisor: bool = False


@dataclass
class DemoResult:
    citizens: list[DemoCitizen] = field(default_factory=list)
    staff: list[DemoStaff] = field(default_factory=list)
    certificates: list[Certificate] = field(default_factory=list)
    cards: list[AkisCard] = field(default_factory=list)
    applications: list[Application] = field(default_factory=list)
    # Demo staff's second factor: the authenticator secret (base32) and fresh backup codes.
    totp_secrets: dict[str, str] = field(default_factory=dict)
    backup_codes: dict[str, list[str]] = field(default_factory=dict)


STATES = ("pending", "active", "suspended", "revoked", "expired")


def _ensure_demo_pki() -> None:
    """The demo CA files and the root's CRL (only where the settings point at the demo directory).

    The issuing CA certificate names the ARL and the root certificate at ``PORTAL_BASE_URL``;
    the ARL is re-signed with the demo root key when it is missing or about to end.
    """
    from certificates import ca as ca_module
    from certificates import pki, root

    if Path(settings.NES_CA_CERT_PATH).parent != Path(settings.NES_PKI_DIR):
        return
    pki.create_demo_pki(
        Path(settings.NES_PKI_DIR),
        arl_url=ca_module.arl_url(settings.NES_CA_SLUG),
        root_certificate_url=ca_module.root_certificate_url(settings.NES_CA_SLUG),
    )
    if Path(settings.NES_ROOT_KEY_PATH).exists() and root.arl_due():
        root.sign_arl()


def _save_demo_key(row: Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    """Demo holders' private keys live only in the demo output (never in the database)."""
    directory = Path(settings.NES_PKI_DIR) / "demo-keys"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{row.serial_number}.key"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    (directory / f"{row.serial_number}.crt").write_bytes(
        x509.load_der_x509_certificate(bytes(row.der)).public_bytes(serialization.Encoding.PEM)
    )


def issue_in_state(
    citizen: Citizen,
    state: str = "active",
    *,
    kind: str = Certificate.Kind.NES,
    now: datetime | None = None,
) -> tuple[Certificate, ec.EllipticCurvePrivateKey]:
    """Issue a real certificate for ``citizen`` (key pair made here) and bring it to ``state``.

    The model's rules apply: an ``active`` certificate cannot be opened while an older one of
    the same kind is still valid, so give a second one another ``kind`` or an earlier ``now``.
    """
    from certificates.services import issue_certificate

    if state not in STATES:
        raise ValueError(f"state must be one of {STATES}")
    now = now or timezone.now()
    key = ec.generate_private_key(ec.SECP256R1())
    if state == "expired":
        not_before, not_after = now - timedelta(days=3 * 365 + 1), now - timedelta(days=1)
    elif state == "pending":
        not_before, not_after = now - timedelta(hours=1), now + timedelta(days=3 * 365)
    else:
        not_before, not_after = now - timedelta(days=1), now + timedelta(days=3 * 365 - 1)
    row = issue_certificate(
        citizen, key.public_key(), kind=kind, not_before=not_before, not_after=not_after
    )
    if state != "pending":
        row.open_for_use(by_citizen=citizen, now=not_before + timedelta(hours=1))
    if state == "suspended":
        row.suspend(
            by=Certificate.SuspendedBy.HOLDER, by_citizen=citizen, now=now - timedelta(hours=1)
        )
    elif state == "revoked":
        row.revoke(
            reason=Certificate.RevocationReason.KEY_COMPROMISE,
            by_citizen=citizen,
            now=now - timedelta(hours=1),
        )
    row.refresh_from_db()
    return row, key


def issue_demo_certificates(citizen: Citizen, *, now: datetime | None = None) -> list[Certificate]:
    """One certificate in every state, in an order the open-for-use rule allows:
    an expired card certificate, a revoked one (card lost), the active one, a newer one not yet
    open (it can be opened only when the active one expires), and a suspended mobile one."""
    now = now or timezone.now()
    day = timedelta(days=1)
    plan = [
        ("expired", Certificate.Kind.NES, now - 60 * day),
        ("revoked", Certificate.Kind.NES, now - 25 * day),
        ("active", Certificate.Kind.NES, now - 20 * day),
        ("suspended", Certificate.Kind.MOBILE, now - 5 * day),
        ("pending", Certificate.Kind.NES, now),
    ]
    rows = []
    for state, kind, at in plan:
        row, key = issue_in_state(citizen, state, kind=kind, now=at)
        _save_demo_key(row, key)
        rows.append(row)
    return rows


# One card unlocked with the PUK in the card tool (before 01.01.2011), one on the portal.
DEMO_CARD_DATES = (dt.date(2010, 6, 15), dt.date(2024, 3, 1))


def demo_card_serial(citizen: Citizen, produced_on: dt.date) -> str:
    """The serial ("AKIS-" and 10 digits), the same for a citizen and date on every run."""
    digest = hashlib.sha256(f"{citizen.identifier}:{produced_on.isoformat()}".encode()).digest()
    return f"AKIS-{int.from_bytes(digest[:8], 'big') % 10**10:010d}"


def issue_demo_cards(citizen: Citizen) -> list[AkisCard]:
    """A PIN-locked card made before 01.01.2011 and one made after, PIN and PUK in the vault.

    The PIN and PUK are random and never printed: the holder sees them on the PIN/PUK page.
    """
    cards = []
    for produced_on in DEMO_CARD_DATES:
        card = AkisCard.objects.create(
            citizen=citizen,
            serial_number=demo_card_serial(citizen, produced_on),
            produced_on=produced_on,
            state=AkisCard.State.PIN_LOCKED,
        )
        vault.store(card, "pin", pins.new_pin())
        vault.store(card, "puk", f"{secrets.randbelow(10**8):08d}")
        cards.append(card)
    return cards


def issue_demo_application(citizen: Citizen, entered_by: Any) -> Application:
    """A waiting institution-paid first application (no SMS: it is demo data)."""
    from audit.actor import Actor
    from eonay.services import enter_application

    application = Application(
        citizen=citizen,
        kind=Application.Kind.FIRST,
        institution_name="Örnek Belediyesi Bilgi İşlem Müdürlüğü",
        institution_tax_number="1234567890",
        contact_name="Deniz Kaya",
        contact_phone="+903121234567",
        contact_email="bilgiislem@ornek.bel.tr",
    )
    return enter_application(application, actor=Actor.staff(entered_by), notify=False)


DEMO_CITIZENS = [
    DemoCitizen(
        "10000000146",
        "Kerimcan",
        "Zeytin",
        "zeytin-dalı-42",
        "+905320000012",
        dt.date(1980, 3, 14),
        "kerimcan.zeytin@example.com.tr",
        "Kızılay Mah. Atatürk Bulvarı No: 5, Çankaya / Ankara",
    ),
    DemoCitizen(
        "12345678028",
        "Ayşe",
        "Yılmaz",
        "mavi-güneş-7",
        "+905421234534",
        dt.date(1975, 11, 2),
        "ayse.yilmaz@example.com.tr",
        "Bağdat Cad. No: 120, Kadıköy / İstanbul",
    ),
    DemoCitizen(
        "23456789138",
        "İsmail",
        "Çelik",
        "şahin-dağı-19",
        "+905059876556",
        dt.date(1990, 6, 30),
        "ismail.celik@example.com.tr",
        "Cumhuriyet Mah. İnönü Sok. No: 3, Gebze / Kocaeli",
    ),
    DemoCitizen(
        "U12345678",
        "Anna",
        "Schmidt",
        "lindenbaum-24",
        "+905551112233",
        dt.date(1988, 1, 9),
        "anna.schmidt@example.com",
        "Konyaaltı Cad. No: 44, Muratpaşa / Antalya",
        language="en",
    ),
]

DEMO_STAFF = [
    DemoStaff("cagri", "Cagri-Demo-2026!", "Çağrı Merkezi temsilcisi"),
    DemoStaff("supervizor", "Supervizor-Demo-2026!", "Çağrı Merkezi süpervizörü", supervisor=True),
    DemoStaff("yonetici", "Yonetici-Demo-2026!", "yönetici (superuser)", superuser=True),
]


def _demo_authenticator(user: Any) -> SealedTOTPDevice:
    """The demo staff member's authenticator: kept across re-seeding, so an app set up once
    keeps working; its secret is printed by ``seed_demo`` (demo accounts only)."""
    device = SealedTOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = SealedTOTPDevice.create_for(user, name="Demo")
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    return device


@transaction.atomic
def seed_demo() -> DemoResult:
    result = DemoResult()
    citizens: list[Citizen] = []
    for demo in DEMO_CITIZENS:
        lookup = (
            {"tckn": demo.identifier}
            if demo.identifier.isdigit()
            else {"passport_no": demo.identifier}
        )
        citizen = Citizen.objects.filter(**lookup).first() or Citizen(**lookup)
        citizen.first_name = demo.first_name
        citizen.last_name = demo.last_name
        citizen.birth_date = demo.birth_date
        citizen.mobile_phone = demo.phone
        citizen.email = demo.email
        citizen.address = demo.address
        citizen.language = demo.language
        citizen.set_security_word(demo.word)
        citizen.full_clean()
        citizen.save()
        citizens.append(citizen)
        result.citizens.append(demo)

    _ensure_demo_pki()
    for citizen in citizens:
        if not citizen.certificates.exists():
            result.certificates += issue_demo_certificates(citizen)
        if not citizen.cards.exists():
            result.cards += issue_demo_cards(citizen)

    user_model = get_user_model()
    group = ensure_call_centre_group()
    supervisors = ensure_supervisor_group()
    for staff in DEMO_STAFF:
        user, _ = user_model.objects.get_or_create(username=staff.username)
        user.is_staff = True
        user.is_superuser = staff.superuser
        user.set_password(staff.password)
        user.save()
        if staff.supervisor:
            user.groups.set([supervisors])
        elif not staff.superuser:
            user.groups.set([group])
        result.staff.append(staff)
        result.totp_secrets[staff.username] = _demo_authenticator(user).secret_text
        backup = HashedStaticDevice.objects.filter(user=user).first()
        if backup is None:
            backup = HashedStaticDevice.objects.create(user=user, name="Yedek kodlar")
        result.backup_codes[staff.username] = backup.replace_codes(3)

    # E-Onay: something to approve (staff exist only now, and enter the applications).
    entered_by = user_model.objects.get(username="yonetici")
    for citizen in citizens:
        if not citizen.eonay_applications.exists():
            result.applications.append(issue_demo_application(citizen, entered_by))
    return result
