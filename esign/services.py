"""E-İmzalı Giriş (Akıllı Kart Servisi): log in by signing a one-time challenge with the
private key of a certificate this portal's CA issued. No security word, no SMS.

The signature format is ``esign.protocol``; this module holds what the portal does around it:
challenges, the browser binding, the checks against our CA and our certificate rows, the
strike, the login and the audit trail.

Flow
====

1. ``GET /e-imzali-giris/soru/`` (or the page ``GET /e-imzali-giris/``) makes a challenge:
   :data:`~esign.protocol.NONCE_BYTES` random bytes, valid :attr:`LoginChallenge.LIFETIME`
   (2 minutes), single use, bound to the browser that asked for it by the cookie ``nes_esign``
   (a signed random token, HttpOnly, SameSite=Strict, path ``/e-imzali-giris/``, a few
   minutes; the row keeps only the token's SHA-256). No session is created or touched before a
   login succeeds, so anonymous GETs leave only challenge rows, which expire and are purged
   (:func:`purge_expired_challenges`, run by the task ``esign.purge_challenges``;
   ``expires_at`` is indexed). The JSON answer is :func:`challenge_payload`.
2. The signing tool signs :func:`esign.protocol.signed_message`.
3. ``POST /e-imzali-giris/`` from the *same browser* (``nes_esign`` and CSRF cookies,
   ``X-CSRFToken`` header or ``csrfmiddlewaretoken`` field) with ``challenge_id``,
   ``signature`` (base64) and ``certificate`` (PEM, or base64 DER). With
   ``Accept: application/json`` the answer is JSON ``{"ok": true, "redirect": "/islemler/"}``
   or ``{"ok": false, "error": "…"}`` (400).

Security contract of :func:`verify_login`
=========================================

* **Proof before strike.** A certificate is public (it travels with every signed document),
  so nothing that only needs the certificate may cost its holder anything. Checks run in this
  order and stop at the first failure:

  1. the challenge exists, belongs to this browser (``nes_esign``), has not expired, and is
     consumed by one conditional UPDATE (``used_at IS NULL`` → now), so a replay or a racing
     second request fails — no strike;
  2. the certificate parses, is signed by *our* issuing CA and is a ``Certificate`` row of that
     CA with byte-identical DER — no strike (nothing ties a stranger's certificate to anyone);
  3. the signature over the challenge verifies with the certificate's public key — a forged or
     junk signature costs the citizen nothing: it is audited as ``nes.esign.signature_invalid``
     (with the citizen, for the call centre) and no strike is taken;
  4. only now, with key possession proven, a strike on the same counter as the security word is
     *reserved* (``accounts.lockout.reserve_strike``), exactly as
     ``accounts.services.check_security_word`` does, so parallel requests get no extra tries
     (at most three checks below, whatever arrives at once); a locked account stops here;
  5. the certificate is inside its validity period and ``active`` (not suspended, revoked or
     pending), and its subject serialNumber (``PNOTR-…``/``PASTR-…``, or the legacy
     ``TCKTR-…``) is the row's citizen's — a failure keeps the strike, the third locks (lock
     reason ``ESIGN_FAILED``);
  6. the counter is reset (unless the account was locked meanwhile: the lock wins).

  The TLS client-certificate login has no challenge: the proxy's handshake proved possession,
  so it starts at step 2 and reserves the strike right after it.
* Every failure gives the caller the same generic message (:data:`ESIGN_FAILED`); the precise
  reason goes only to the audit log (``nes.login.esign_failed``, or
  ``nes.esign.signature_invalid``, ``reason=…``).
* A challenge is consumed before the certificate is even parsed: every attempt costs a fresh
  challenge, i.e. one more round trip from the same browser.

Like ``login_citizen``, the functions that own the browser binding (:func:`binding_token`,
:func:`bind_browser`, :func:`unbind_browser`, :func:`log_in`) see HTTP; the checks get who
acted (an ``Actor``) and the binding token, never the request.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy as _

from accounts import lockout
from accounts.housekeeping import delete_in_batches
from accounts.models import Citizen
from accounts.services import login_citizen
from accounts.tokens import token_hash
from audit.actor import Actor
from audit.log import record
from certificates import ca as ca_module
from certificates import pki
from certificates.models import Certificate
from nesportal.contact import with_phone
from nesportal.http import PortalRequest

from .models import LoginChallenge
from .protocol import (
    MESSAGE_PREFIX,
    NONCE_BYTES,
    ProtocolError,
    decode_signature,
    parse_certificate,
    signed_message,
    verify_signature,
)

ResponseT = TypeVar("ResponseT", bound=HttpResponse)

# The browser binding: its own short-lived cookie, so an anonymous challenge needs no session.
BINDING_COOKIE = "nes_esign"
# Unchanged since the code lived in certificates: a new salt would void the cookies of every
# browser holding a challenge at deploy time, for nothing.
BINDING_SALT = "nesportal.certificates.esign-binding"
# A little longer than a challenge, and refreshed with every new one.
BINDING_MAX_AGE = int(LoginChallenge.LIFETIME.total_seconds()) + 60

ESIGN_FAILED = with_phone(
    _(
        "E-imzalı giriş yapılamadı. Sertifikanızın geçerli ve kullanıma açılmış olduğundan emin "
        "olup yeni giriş sorusunu imzalayarak yeniden deneyiniz. 3 kez hatalı giriş yapılan "
        "hesaplar güvenlik nedeniyle bloke olur; bu durumda %(phone)s numaralı Çağrı Merkezimizi "
        "arayınız."
    )
)


def tls_header() -> str:
    """The request header holding the proxy's verified client certificate; "" when off."""
    return getattr(settings, "ESIGN_TRUST_PROXY_CERT_HEADER", "") or ""


# --- the browser binding ----------------------------------------------------------------------


def _binding_path() -> str:
    """The cookie goes only to the E-İmzalı Giriş pages (they all live under the page's URL)."""
    return reverse("esign:login")


def cookie_token(request: HttpRequest) -> str:
    """The binding token of this browser's ``nes_esign`` cookie, or "" (absent, forged, old)."""
    value = request.COOKIES.get(BINDING_COOKIE, "")
    if not value or len(value) > 200:
        return ""
    try:
        signer = signing.TimestampSigner(salt=BINDING_SALT)
        return str(signer.unsign(value, max_age=BINDING_MAX_AGE))
    except signing.BadSignature:  # also SignatureExpired
        return ""


def binding_token(request: HttpRequest) -> str:
    """This browser's binding token: the cookie's, or a new one (set by :func:`bind_browser`)."""
    token = getattr(request, "_nes_esign_token", "") or cookie_token(request)
    if not token:
        token = secrets.token_urlsafe(32)
    request._nes_esign_token = token  # type: ignore[attr-defined]
    return token


def bind_browser(response: ResponseT, request: HttpRequest) -> ResponseT:
    """(Re)set the ``nes_esign`` cookie for the token the challenges were bound to."""
    token = getattr(request, "_nes_esign_token", "")
    if token:
        response.set_cookie(
            BINDING_COOKIE,
            signing.TimestampSigner(salt=BINDING_SALT).sign(token),
            max_age=BINDING_MAX_AGE,
            path=_binding_path(),
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Strict",
        )
    return response


def unbind_browser(response: ResponseT) -> ResponseT:
    """Spend the binding after a login: the browser's open challenges are of no use any more."""
    response.delete_cookie(BINDING_COOKIE, path=_binding_path(), samesite="Strict")
    return response


def log_in(request: PortalRequest, citizen: Citizen) -> None:
    """Start the verified citizen's session (the first time this request touches the session:
    the login creates it), through the one login path every method shares."""
    login_citizen(request, citizen)


# --- challenges -------------------------------------------------------------------------------


def purge_expired_challenges(*, now: datetime | None = None) -> int:
    """Delete the challenges past their expiry, used or not (an expired challenge can never log
    anybody in), in batches; returns how many. The task ``esign.purge_challenges`` runs it;
    ``LoginChallenge.expires_at`` is indexed."""
    expired = LoginChallenge.objects.filter(expires_at__lt=now or timezone.now())
    return delete_in_batches(expired)


def issue_challenge(request: HttpRequest, *, now: datetime | None = None) -> LoginChallenge:
    """A fresh challenge bound to this browser (the cookie keeps the token, the row its hash).

    Never touches ``request.session``: a cookie-less GET must not store a session row. The
    caller sets the cookie on its response with :func:`bind_browser`."""
    now = now or timezone.now()
    token = binding_token(request)
    return LoginChallenge.objects.create(
        nonce=secrets.token_bytes(NONCE_BYTES),
        binding_hash=token_hash(token),
        created_at=now,
        expires_at=now + LoginChallenge.LIFETIME,
    )


def challenge_payload(request: HttpRequest, challenge: LoginChallenge) -> dict[str, Any]:
    """What a signing tool needs: the challenge, the CSRF token of its POST and where to POST."""
    return {
        "challenge_id": str(challenge.pk),
        "nonce_b64": base64.b64encode(bytes(challenge.nonce)).decode("ascii"),
        "expires_at": challenge.expires_at.isoformat(),
        "csrf_token": get_token(request),
        "post_url": reverse("esign:login"),
        "message_prefix_b64": base64.b64encode(MESSAGE_PREFIX).decode("ascii"),
    }


# --- verification -----------------------------------------------------------------------------


class EsignFailed(Exception):
    """Verification failed; ``reason`` is for the audit log only, never for the user."""

    def __init__(
        self,
        reason: str,
        citizen: Citizen | None = None,
        *,
        action: str = "nes.login.esign_failed",
        **data: Any,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.citizen = citizen
        self.action = action
        self.data = data
        self.recorded = False


@dataclass(frozen=True)
class EsignResult:
    citizen: Citizen | None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.citizen is not None


def _consume_challenge(token: str, challenge_id: str, now: datetime) -> LoginChallenge:
    """Claim the challenge bound to the browser's binding ``token`` (its cookie's)."""
    try:
        pk = uuid.UUID(str(challenge_id))
    except ValueError:
        raise EsignFailed("challenge_malformed") from None
    challenge = LoginChallenge.objects.filter(pk=pk).first()
    if challenge is None:
        raise EsignFailed("challenge_unknown")
    if not token or not constant_time_compare(challenge.binding_hash, token_hash(token)):
        raise EsignFailed("challenge_other_session")
    if now >= challenge.expires_at:
        raise EsignFailed("challenge_expired")
    # The one place that decides single use: of two racing requests, exactly one updates.
    if not LoginChallenge.objects.filter(pk=pk, used_at=None, expires_at__gt=now).update(
        used_at=now
    ):
        raise EsignFailed("challenge_used")
    return challenge


def our_certificate(cert: x509.Certificate) -> Certificate:
    """The ``Certificate`` row of ``cert``: signed by *our* issuing CA and a row of that CA with
    byte-identical DER. Raises :class:`EsignFailed` (``certificate_foreign_ca`` or
    ``certificate_unknown``) otherwise. Needs only the (public) certificate, so it costs nobody
    anything: the login's step 2 and the card pages' identify endpoint share it."""
    try:
        cert.verify_directly_issued_by(ca_module.material().certificate)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        raise EsignFailed("certificate_foreign_ca") from None
    der = cert.public_bytes(serialization.Encoding.DER)
    row = (
        Certificate.objects.select_related("citizen")
        .filter(ca_id=ca_module.issuing_ca().id, serial_number=format(cert.serial_number, "x"))
        .first()
    )
    if row is None or not constant_time_compare(bytes(row.der), der):
        raise EsignFailed("certificate_unknown")
    return row


def certificate_problem(cert: x509.Certificate, row: Certificate, now: datetime) -> str:
    """Why ``row`` (of ``cert``) cannot sign now: ``certificate_not_yet_valid``,
    ``certificate_expired``, ``certificate_<status>`` (suspended, revoked, pending), or ""
    when it is active and inside its validity period."""
    if now < cert.not_valid_before_utc or now < row.not_before:
        return "certificate_not_yet_valid"
    if now >= cert.not_valid_after_utc or row.is_expired(now):
        return "certificate_expired"
    if row.status != Certificate.Status.ACTIVE:
        return f"certificate_{row.status}"
    return ""


def _check_possession(
    cert: x509.Certificate, row: Certificate, *, signature: bytes, message: bytes
) -> None:
    """Proof of key possession, before anything may cost the citizen a strike: the signature
    over the challenge verifies with the posted certificate's key. Anyone holds a citizen's
    certificate; only the card holds the key, so a failure here is nobody's strike."""
    try:
        public_key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise EsignFailed("certificate_key_unsupported", serial=row.serial_number) from None
    if not verify_signature(public_key, signature, message):
        raise EsignFailed(
            "signature_invalid",
            row.citizen,
            action="nes.esign.signature_invalid",
            serial=row.serial_number,
            strike=False,
        )


def _check_for_citizen(cert: x509.Certificate, row: Certificate, now: datetime) -> None:
    """The checks after key possession is proven (or the TLS handshake proved it) and a strike
    is reserved: the certificate's validity and status, and the holder's identity."""
    problem = certificate_problem(cert, row, now)
    if problem:
        raise EsignFailed(problem)
    names = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    if len(names) != 1 or not pki.identity_matches(
        str(names[0].value),
        tckn=row.citizen.tckn or None,
        passport_no=row.citizen.passport_no or None,
    ):
        raise EsignFailed("identity_mismatch")


def _login_with_certificate(
    actor: Actor,
    cert_text: str | bytes,
    now: datetime,
    *,
    signature: bytes | None,
    message: bytes = b"",
) -> Citizen:
    """Certificate → our row → proof of possession → strike reserved → remaining checks →
    counter reset. ``signature=None`` only for a TLS client certificate, whose key possession
    the reverse proxy's handshake proved."""
    try:
        cert = parse_certificate(cert_text)
    except ProtocolError:
        raise EsignFailed("certificate_unparsable") from None
    row = our_certificate(cert)
    citizen = row.citizen
    if signature is not None:
        _check_possession(cert, row, signature=signature, message=message)
    # Reserved before the checks that may count, like a security word: parallel requests get
    # no extra tries (at most MAX_FAILURES checks, however many arrive at once).
    if not lockout.reserve_strike(citizen.pk):
        raise EsignFailed("citizen_locked", citizen, serial=row.serial_number)
    try:
        _check_for_citizen(cert, row, now)
    except EsignFailed as exc:
        citizen.refresh_from_db(fields=["failure_count"])
        _record_failure(
            actor,
            exc.reason,
            citizen,
            serial=row.serial_number,
            failure_count=citizen.failure_count,
        )
        lockout.lock(citizen.pk, Citizen.LockReason.ESIGN_FAILED, actor=actor, now=now)
        exc.recorded = True
        raise
    # If parallel failures locked the account meanwhile, the lock wins.
    if not lockout.reset_strikes(citizen.pk):
        raise EsignFailed("citizen_locked", citizen, serial=row.serial_number)
    citizen.refresh_from_db()
    record(
        "nes.login.esign_passed",
        actor=actor,
        citizen=citizen,
        serial=row.serial_number,
        method="signature" if signature is not None else "tls_client_certificate",
    )
    return citizen


def _record_failure(
    actor: Actor,
    reason: str,
    citizen: Citizen | None,
    *,
    action: str = "nes.login.esign_failed",
    **data: Any,
) -> None:
    record(action, actor=actor, citizen=citizen, reason=reason, **data)


def refused(actor: Actor, reason: str, **data: Any) -> EsignResult:
    """A refusal found before any check could start (an invalid form, no TLS certificate):
    audited like every other failure, costing nobody anything."""
    _record_failure(actor, reason, None, **data)
    return EsignResult(None, reason)


def _outcome(actor: Actor, attempt: Callable[[], Citizen]) -> EsignResult:
    try:
        citizen = attempt()
    except EsignFailed as exc:
        if not exc.recorded:
            _record_failure(actor, exc.reason, exc.citizen, action=exc.action, **exc.data)
        return EsignResult(None, exc.reason)
    return EsignResult(citizen)


def verify_login(
    *,
    actor: Actor,
    binding: str,
    challenge_id: str,
    signature_b64: str,
    certificate: str,
    now: datetime | None = None,
) -> EsignResult:
    """Check a signed challenge (see the module docstring for the order and the contract).

    Returns the citizen on success (not yet logged in: the caller calls :func:`log_in`);
    on failure ``citizen`` is None and ``reason`` says why, for tests and logs only.
    ``binding`` is the browser's binding token (:func:`cookie_token`: its ``nes_esign``
    cookie).
    """
    now = now or timezone.now()

    def attempt() -> Citizen:
        challenge = _consume_challenge(binding, challenge_id, now)
        try:
            signature = decode_signature(signature_b64)
        except ProtocolError:
            signature = b""  # fails the proof of possession below: no strike
        return _login_with_certificate(
            actor,
            certificate,
            now,
            signature=signature,
            message=signed_message(challenge.pk, bytes(challenge.nonce)),
        )

    return _outcome(actor, attempt)


def verify_tls_login(
    header_value: str, *, actor: Actor, now: datetime | None = None
) -> EsignResult:
    """Check a TLS client certificate forwarded by the reverse proxy (URL-encoded PEM, as
    nginx's ``$ssl_client_escaped_cert``). The handshake proved key possession, so there is
    no challenge; every other check is the same."""
    at = now or timezone.now()
    return _outcome(
        actor,
        lambda: _login_with_certificate(actor, unquote(header_value), at, signature=None),
    )


# --- the card's certificates (the card pages' identify endpoint) ------------------------------

# At most this many certificates per identify request (a card holds a few; more is abuse).
MAX_CARD_CERTIFICATES = 16
# base64 of a 12 KiB certificate (ours are well under 2 KiB in DER).
MAX_CERTIFICATE_B64_CHARS = 16384

# What the card pages say about a certificate that cannot be used, and what to do. Shown for a
# certificate read from the citizen's own card (identify endpoint), and after a login whose
# signature proved key possession (the holder is at the keyboard, so the precise reason may be
# told; everything before that proof keeps the generic ESIGN_FAILED).
CERTIFICATE_MESSAGES: dict[str, Any] = {
    "active": _("Bu sertifikayla giriş yapabilir ve imza atabilirsiniz."),
    "suspended": with_phone(
        _(
            "Bu sertifika askıdadır; askıdaki bir sertifikayla giriş yapılamaz ve imza atılamaz. "
            "Askıya almayı siz yaptıysanız Şifreli Giriş yapıp İşlemler Menüsü'nde Askıdan İndir "
            "ile yeniden kullanıma açabilirsiniz; aksi hâlde %(phone)s numaralı Çağrı Merkezimizi "
            "arayınız."
        )
    ),
    "revoked": _(
        "Bu sertifika iptal edilmiştir ve bir daha kullanılamaz. Yeni bir sertifika için "
        "başvurunuz; o zamana kadar Şifreli Giriş'i kullanabilirsiniz."
    ),
    "expired": _(
        "Bu sertifikanın süresi dolmuştur. Yeni sertifikanız geldiyse Şifreli Giriş yapıp "
        "Sertifikamı Kullanıma Aç ile kullanıma açınız; gelmediyse yenileme başvurusu yapınız."
    ),
    "pending": _(
        "Bu sertifika henüz kullanıma açılmadı. Önce Şifreli Giriş yapıp İşlemler Menüsü'nde "
        "Sertifikamı Kullanıma Aç ile kullanıma açınız."
    ),
    "not_yet_valid": _(
        "Bu sertifikanın geçerlilik süresi henüz başlamadı. Başlangıç tarihinden sonra yeniden "
        "deneyiniz ya da Şifreli Giriş'i kullanınız."
    ),
    "foreign": _(
        "Bu sertifika sertifika hizmet sağlayıcımızca verilmedi ya da kayıtlarımızla "
        "eşleşmiyor; bu portalda kullanılamaz."
    ),
    "unreadable": _("Bu kayıt okunabilir bir X.509 sertifikası değil; bu portalda kullanılamaz."),
}

STATUS_LABELS: dict[str, Any] = {
    "active": _("Geçerli"),
    "suspended": _("Askıda"),
    "revoked": _("İptal edildi"),
    "expired": _("Süresi doldu"),
    "pending": _("Kullanıma açılmadı"),
    "not_yet_valid": _("Henüz geçerli değil"),
    "foreign": _("Bu portalın sertifikası değil"),
    "unreadable": _("Okunamadı"),
}

# Login refusals that come after the signature proved key possession and that the holder may be
# told precisely (the JSON answer's message), with the status code of CERTIFICATE_MESSAGES.
POSSESSION_REASONS: dict[str, str] = {
    "certificate_suspended": "suspended",
    "certificate_revoked": "revoked",
    "certificate_expired": "expired",
    "certificate_pending": "pending",
    "certificate_not_yet_valid": "not_yet_valid",
}


def refusal_message(reason: str) -> Any:
    """What the caller is told about a refused login: the precise message only for the reasons
    of :data:`POSSESSION_REASONS` (found after key possession was proven), else ESIGN_FAILED."""
    code = POSSESSION_REASONS.get(reason)
    return CERTIFICATE_MESSAGES[code] if code else ESIGN_FAILED


class CardCertificatesInvalid(ValueError):
    """The identify request is malformed (not a list of base64 strings, too many, too long)."""


def decode_card_certificates(value: Any) -> list[bytes]:
    """The identify request's ``certificates`` (a list of base64 DER strings) → DER bytes."""
    if not isinstance(value, list) or not value:
        raise CardCertificatesInvalid("certificates must be a non-empty list")
    if len(value) > MAX_CARD_CERTIFICATES:
        raise CardCertificatesInvalid(f"at most {MAX_CARD_CERTIFICATES} certificates")
    ders: list[bytes] = []
    for item in value:
        if not isinstance(item, str) or not item or len(item) > MAX_CERTIFICATE_B64_CHARS:
            raise CardCertificatesInvalid("each certificate is a base64 string")
        try:
            der = base64.b64decode(item.strip(), validate=True)
        except ValueError:
            raise CardCertificatesInvalid("each certificate is a base64 string") from None
        if not der:
            raise CardCertificatesInvalid("each certificate is a base64 string")
        ders.append(der)
    return ders


def identify_card_certificate(
    index: int, der: bytes, *, citizen: Citizen | None, now: datetime
) -> dict[str, Any]:
    """One entry of the identify answer (see :func:`identify_card_certificates`)."""
    entry: dict[str, Any] = {
        "index": index,
        "ours": False,
        "serial": "",
        "subject_name": "",
        "not_after": None,
        "usable": False,
        "yours": None if citizen is None else False,
    }
    try:
        cert = x509.load_der_x509_certificate(der)
        entry["serial"] = format(cert.serial_number, "x")
        entry["not_after"] = cert.not_valid_after_utc.isoformat()
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        entry["subject_name"] = str(names[0].value) if names else cert.subject.rfc4514_string()
    except ValueError:
        code = "unreadable"
    else:
        try:
            row = our_certificate(cert)
        except EsignFailed:
            code = "foreign"
        else:
            problem = certificate_problem(cert, row, now)
            code = problem.removeprefix("certificate_") if problem else "active"
            entry.update(
                ours=True,
                serial=row.serial_number,
                subject_name=row.subject_name,
                not_after=row.not_after.isoformat(),
                usable=not problem,
            )
            if citizen is not None:
                entry["yours"] = row.citizen_id == citizen.pk
    entry["status"] = code
    entry["status_label"] = str(STATUS_LABELS[code])
    entry["message"] = str(CERTIFICATE_MESSAGES[code])
    return entry


def identify_card_certificates(
    ders: list[bytes], *, citizen: Citizen | None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Which of the certificates read from a card are ours (:func:`our_certificate`: our CA's
    signature and a row with byte-identical DER), their live status, whether they can sign now
    (``usable``) and whether they are the logged-in ``citizen``'s (``yours``, None when
    anonymous). Sorted: usable first, then the other ones of ours, then the foreign ones.

    Costs nobody anything and tells nothing that is not public already: a certificate carries
    its holder's name, and its status is public through OCSP and the CRL."""
    now = now or timezone.now()
    entries = [
        identify_card_certificate(i, der, citizen=citizen, now=now) for i, der in enumerate(ders)
    ]
    return sorted(entries, key=lambda e: (not e["usable"], not e["ours"], e["index"]))
