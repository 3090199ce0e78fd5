"""E-İmzalı Giriş (Akıllı Kart Servisi): log in by signing a one-time challenge with the
private key of a certificate this portal's CA issued. No security word, no SMS.

Protocol
========

1. ``GET /e-imzali-giris/soru/`` (or the page ``GET /e-imzali-giris/``) makes a challenge:
   32 random bytes, valid :attr:`LoginChallenge.LIFETIME` (2 minutes), single use, bound to the
   browser that asked for it by the cookie ``nes_esign`` (a signed random token, HttpOnly,
   SameSite=Strict, path ``/e-imzali-giris/``, a few minutes; the row keeps only the token's
   SHA-256). No session is created or touched before a login succeeds, so anonymous GETs leave
   only challenge rows, which expire and are purged (:func:`purge_expired_challenges`, run by
   the housekeeping task; ``expires_at`` is indexed). The JSON answer is
   ``{"challenge_id", "nonce_b64", "expires_at", "csrf_token", "post_url", "message_prefix_b64"}``.
2. The signing tool signs the canonical message (:func:`signed_message`)::

       b"NES-PORTAL-LOGIN\\0" + challenge_id.bytes (16 octets, the UUID's binary form) + nonce

   with SHA-256: ECDSA (DER-encoded signature, or raw r‖s as PKCS#11 returns it) or RSA
   PKCS#1 v1.5. The fixed prefix keeps a login signature from being mistaken for a signature
   over anything else (a document, an OCSP request); the challenge id ties it to one row.
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
* Every failure gives the caller the same generic message; the precise reason goes only to the
  audit log (``nes.login.esign_failed``, or ``nes.esign.signature_invalid``, ``reason=…``).
* A challenge is consumed before the certificate is even parsed: every attempt costs a fresh
  challenge, i.e. one more round trip from the same browser.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID
from django import forms
from django.conf import settings
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import lockout
from accounts.housekeeping import delete_in_batches
from accounts.models import Citizen
from accounts.services import login_citizen
from accounts.tokens import token_hash
from audit.actor import Actor
from audit.log import record
from nesportal.contact import with_phone
from nesportal.decorators import throttled
from nesportal.http import PortalRequest

from . import ca as ca_module
from . import pki
from .models import Certificate, LoginChallenge

ResponseT = TypeVar("ResponseT", bound=HttpResponse)

MESSAGE_PREFIX = b"NES-PORTAL-LOGIN\0"
NONCE_BYTES = 32
# The browser binding: its own short-lived cookie, so an anonymous challenge needs no session.
BINDING_COOKIE = "nes_esign"
BINDING_SALT = "nesportal.certificates.esign-binding"
# A little longer than a challenge, and refreshed with every new one.
BINDING_MAX_AGE = int(LoginChallenge.LIFETIME.total_seconds()) + 60
MAX_SIGNATURE_CHARS = 2048  # base64 of an RSA-8192 signature is ~1.4k
MAX_CERTIFICATE_CHARS = 16384

ESIGN_FAILED = with_phone(
    _(
        "E-imzalı giriş yapılamadı. Sertifikanızın geçerli ve kullanıma açılmış olduğundan emin "
        "olup yeni giriş sorusunu imzalayarak yeniden deneyiniz. 3 kez hatalı giriş yapılan "
        "hesaplar güvenlik nedeniyle bloke olur; bu durumda %(phone)s numaralı Çağrı Merkezimizi "
        "arayınız."
    )
)


# --- the protocol (pure functions) -----------------------------------------------------------


def _as_uuid(challenge_id: uuid.UUID | str) -> uuid.UUID:
    return challenge_id if isinstance(challenge_id, uuid.UUID) else uuid.UUID(str(challenge_id))


def signed_message(challenge_id: uuid.UUID | str, nonce: bytes) -> bytes:
    """The exact bytes a signing tool signs for a challenge (see the module docstring)."""
    return MESSAGE_PREFIX + _as_uuid(challenge_id).bytes + bytes(nonce)


def sign_challenge(
    nonce: bytes, challenge_id: uuid.UUID | str, private_key: ec.EllipticCurvePrivateKey | Any
) -> bytes:
    """Sign a challenge as a card's signing tool would: ECDSA-SHA256 (DER) or RSA PKCS#1 v1.5."""
    message = signed_message(challenge_id, nonce)
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return private_key.sign(message, ec.ECDSA(hashes.SHA256()))
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    raise TypeError("private_key must be an EC or RSA private key")


def verify_signature(public_key: Any, signature: bytes, message: bytes) -> bool:
    """True if ``signature`` over ``message`` verifies (ECDSA-SHA256 DER or raw r‖s; RSA
    PKCS#1 v1.5 SHA-256). Any other key type is refused."""
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            return _verify_ecdsa(public_key, signature, message)
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            return True
    except (InvalidSignature, ValueError, UnsupportedAlgorithm):
        return False
    return False


def _verify_ecdsa(public_key: ec.EllipticCurvePublicKey, signature: bytes, message: bytes) -> bool:
    """DER first; then raw r‖s (IEEE P1363, what PKCS#11's CKM_ECDSA returns), which cannot be
    told apart from DER by its first byte (r may start with 0x30)."""
    candidates = [signature]
    size = (public_key.curve.key_size + 7) // 8
    if len(signature) == 2 * size:
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        candidates.append(encode_dss_signature(r, s))
    for candidate in candidates:
        try:
            public_key.verify(candidate, message, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            continue
        return True
    return False


def parse_certificate(text: str | bytes) -> x509.Certificate:
    """A certificate given as PEM or as base64 DER; ``ValueError`` if it is neither."""
    data = text.encode("ascii", "replace") if isinstance(text, str) else bytes(text)
    if b"-----BEGIN CERTIFICATE-----" in data:
        return x509.load_pem_x509_certificate(data)
    try:
        der = base64.b64decode(b"".join(data.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("neither PEM nor base64 DER") from exc
    return x509.load_der_x509_certificate(der)


def decode_signature(text: str) -> bytes:
    """Standard or URL-safe base64, whitespace ignored; ``ValueError`` if it is not base64."""
    compact = "".join(text.split()).replace("-", "+").replace("_", "/")
    compact += "=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("signature is not base64") from exc


def identity_of(citizen: Citizen) -> str:
    """The subject serialNumber we write into this citizen's certificates (ETSI EN 319 412-1)."""
    return pki.natural_person_identity(citizen.tckn or None, citizen.passport_no or None)


# --- challenges ------------------------------------------------------------------------------


def _cookie_token(request: HttpRequest) -> str:
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
    token = getattr(request, "_nes_esign_token", "") or _cookie_token(request)
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
            path=reverse("certificates:esign_login"),
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Strict",
        )
    return response


def purge_expired_challenges(*, now: datetime | None = None) -> int:
    """Delete the challenges past their expiry, used or not (an expired challenge can never log
    anybody in), in batches; returns how many. The housekeeping task
    ``certificates.purge_challenges`` runs it; ``LoginChallenge.expires_at`` is indexed."""
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
    return {
        "challenge_id": str(challenge.pk),
        "nonce_b64": base64.b64encode(bytes(challenge.nonce)).decode("ascii"),
        "expires_at": challenge.expires_at.isoformat(),
        "csrf_token": get_token(request),
        "post_url": reverse("certificates:esign_login"),
        "message_prefix_b64": base64.b64encode(MESSAGE_PREFIX).decode("ascii"),
    }


# --- verification ----------------------------------------------------------------------------


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


def _our_certificate(cert: x509.Certificate) -> Certificate:
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
    if now < cert.not_valid_before_utc or now < row.not_before:
        raise EsignFailed("certificate_not_yet_valid")
    if now >= cert.not_valid_after_utc or row.is_expired(now):
        raise EsignFailed("certificate_expired")
    if row.status != Certificate.Status.ACTIVE:
        raise EsignFailed(f"certificate_{row.status}")
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
    except ValueError:
        raise EsignFailed("certificate_unparsable") from None
    row = _our_certificate(cert)
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


def _outcome(actor: Actor, attempt: Any) -> EsignResult:
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

    Returns the citizen on success (not yet logged in: the caller calls ``login_citizen``);
    on failure ``citizen`` is None and ``reason`` says why, for tests and logs only.
    ``binding`` is the browser's binding token (``_cookie_token``: its ``nes_esign`` cookie).
    """
    now = now or timezone.now()

    def attempt() -> Citizen:
        challenge = _consume_challenge(binding, challenge_id, now)
        try:
            signature = decode_signature(signature_b64)
        except ValueError:
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
    now = now or timezone.now()
    return _outcome(
        actor,
        lambda: _login_with_certificate(actor, unquote(header_value), now, signature=None),
    )


# --- views -----------------------------------------------------------------------------------


class EsignLoginForm(forms.Form):
    challenge_id = forms.CharField(widget=forms.HiddenInput, max_length=64)
    signature = forms.CharField(
        label=_("İmza (base64)"),
        max_length=MAX_SIGNATURE_CHARS,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "autocomplete": "off"}),
        help_text=_("İmzalama aracınızın ürettiği imza."),
    )
    certificate = forms.CharField(
        label=_("Sertifika (PEM ya da base64 DER)"),
        max_length=MAX_CERTIFICATE_CHARS,
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false", "autocomplete": "off"}),
        help_text=_("Akıllı kartınızdaki nitelikli elektronik sertifikanız."),
    )


def tls_header() -> str:
    """The request header holding the proxy's verified client certificate; "" when off."""
    return getattr(settings, "ESIGN_TRUST_PROXY_CERT_HEADER", "") or ""


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _render_page(request: HttpRequest, *, error: Any = None, status: int = 200) -> HttpResponse:
    """The page with a fresh challenge (after a failure too: the old one is used up)."""
    challenge = issue_challenge(request)
    payload = challenge_payload(request, challenge)
    form = EsignLoginForm(initial={"challenge_id": payload["challenge_id"]})
    seconds_left = int(LoginChallenge.LIFETIME.total_seconds())
    context = {
        "form": form,
        "error": error,
        "challenge": payload,
        "seconds_left": seconds_left,
        "countdown_text": "{:02d}:{:02d}".format(*divmod(seconds_left, 60)),
        "tls_enabled": bool(tls_header()),
        "message_prefix": "NES-PORTAL-LOGIN\\0",
    }
    response = render(request, "certificates/esign_login.html", context, status=status)
    return bind_browser(response, request)


def _finish(request: PortalRequest, result: EsignResult) -> HttpResponse:
    menu = reverse("accounts:menu")
    if result.citizen is not None:
        # The first time this request touches the session: the login creates it.
        login_citizen(request, result.citizen)
        response: HttpResponse
        if _wants_json(request):
            response = JsonResponse({"ok": True, "redirect": menu})
        else:
            response = redirect(menu)
        response.delete_cookie(
            BINDING_COOKIE, path=reverse("certificates:esign_login"), samesite="Strict"
        )
        return response
    if _wants_json(request):
        return JsonResponse({"ok": False, "error": str(ESIGN_FAILED)}, status=400)
    return _render_page(request, error=ESIGN_FAILED, status=400)


@never_cache
@require_http_methods(["GET", "POST"])
@throttled("esign_challenge", methods=("GET",))  # the page makes a challenge too
@throttled("esign_login")
def esign_login(request: PortalRequest) -> HttpResponse:
    actor = Actor.from_request(request)
    if request.method == "GET":
        if getattr(request, "citizen", None) is not None:
            return redirect("accounts:menu")
        return _render_page(request)
    form = EsignLoginForm(request.POST)
    if not form.is_valid():
        _record_failure(actor, "form_invalid", None, fields=sorted(form.errors))
        return _finish(request, EsignResult(None, "form_invalid"))
    result = verify_login(
        actor=actor,
        binding=_cookie_token(request),
        challenge_id=form.cleaned_data["challenge_id"],
        signature_b64=form.cleaned_data["signature"],
        certificate=form.cleaned_data["certificate"],
    )
    return _finish(request, result)


@never_cache
@require_GET
@throttled("esign_challenge")
def esign_challenge(request: HttpRequest) -> JsonResponse:
    """The challenge as JSON, for signing tools (plus the CSRF token their POST needs)."""
    response = JsonResponse(challenge_payload(request, issue_challenge(request)))
    return bind_browser(response, request)


@never_cache
@require_POST
@throttled("esign_login")
def esign_tls_login(request: PortalRequest) -> HttpResponse:
    """Log in with the TLS client certificate the reverse proxy verified and forwarded.

    Off unless ``ESIGN_TRUST_PROXY_CERT_HEADER`` names the header; then the proxy MUST strip
    that header from client requests and set it only after a verified handshake, or anyone
    could claim any certificate (which is public) by sending the header themselves.
    """
    header = tls_header()
    if not header:
        raise Http404
    value = request.headers.get(header, "")
    actor = Actor.from_request(request)
    if not value:
        _record_failure(actor, "tls_no_certificate", None)
        return _finish(request, EsignResult(None, "tls_no_certificate"))
    return _finish(request, verify_tls_login(value, actor=actor))
