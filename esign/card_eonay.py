"""E-Onay signed with the card: the portal's side around ``esign.consent``.

The citizen gives or withdraws a standing consent, or approves or rejects an application, by
signing the canonical E-Onay text with their AKİS card through the Akıllı Kart Servisi (a
detached CMS, CAdES-BES). This module sits in ``esign`` because it checks certificates against
our CA and our rows (like E-İmzalı Giriş) and then calls ``eonay.services``, which records the
change with the signature (import-linter's layers: esign is above the feature apps).

Flow
====

1. ``prepare`` (the page's "Kartımla İmzala", a CSRF POST): the text for this operation, with
   a fresh 32-byte nonce and the current time (UTC, to the second), is kept in the session as
   *the one pending text* (a new one replaces the old), at most :data:`PENDING_MAX_AGE` old.
2. The page has the card service sign exactly that text (``kind: "consent"``).
3. ``sign``: the pending text is taken out of the session first (single use: whatever happens
   next, it is spent), then, in this order, stopping at the first failure:

   a. it belongs to this operation (else 409) and is not too old (else 400);
   b. the CMS is base64 and a valid detached CAdES-BES signature over exactly that text
      (``esign.consent.verify_cms``);
   c. its certificate is ours (our issuing CA and a row with byte-identical DER,
      ``esign.services.our_certificate``), is this citizen's (row and subject serialNumber),
      and is active and inside its validity now (``certificate_problem``: our row is the live
      status, which is what our OCSP responder answers);
   d. the signed signingTime is within :data:`CLOCK_SKEW` of the text's time;
   e. in one transaction: the certificate row is locked and checked once more (a suspension
      racing the signature wins), the ``CardSignature`` is stored (its nonce is unique: a
      text is used once, whatever the session says), and ``eonay.services`` performs the
      operation with it. If the operation has nothing to do any more (decided or given in
      another tab meanwhile) the transaction is rolled back and the answer is 409.

   A refusal costs no strike (a signature is not a password guess, and the account's lock
   is the login's business), writes ``nes.eonay.card_signature_refused`` with the reason and
   changes nothing else.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.x509.oid import NameOID
from django.contrib.sessions.backends.base import SessionBase
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from accounts.models import Citizen
from audit.actor import Actor
from audit.log import record
from certificates import pki
from certificates.models import Certificate
from eonay.models import Application, ApplicationError, CardSignature, Consent
from eonay.services import decide_application, give_consent, withdraw_consent
from nesportal.contact import with_phone

from . import consent as fmt
from .services import CERTIFICATE_MESSAGES, EsignFailed, certificate_problem, our_certificate

SESSION_PENDING = "nes_eonay_card"
PENDING_MAX_AGE = timedelta(minutes=5)
CLOCK_SKEW = timedelta(minutes=5)
# The size of the CMS in base64 a POST may carry (a signature with one certificate is ~2 KiB).
MAX_CMS_B64_CHARS = 32 * 1024
# The E-Onay page's receipt note (eonay.views.SESSION_RECEIPT): shown once after a decision.
SESSION_RECEIPT = "nes_eonay_receipt"

SIGNATURE_FAILED = with_phone(
    _(
        "Kartınızla atılan imza doğrulanamadı; işleminiz yapılmadı. Kartınızdaki geçerli "
        "sertifikanızla yeniden deneyiniz. Sorun sürerse Kart Kontrol sayfasını kullanınız ya da "
        "%(phone)s numaralı Çağrı Merkezimizi arayınız."
    )
)
NOT_YOURS = _(
    "Bu imza size ait olmayan bir sertifikayla atıldı; işleminiz yapılmadı. Kendi kartınızla "
    "imzalayınız."
)
NO_PENDING = _(
    "İmzalanacak bir E-Onay metni bulunamadı ya da süresi doldu (5 dakika). Kartımla İmzala "
    "düğmesine yeniden basınız."
)
OTHER_OPERATION = _(
    "İmzaladığınız metin bu işleme ait değil; işleminiz yapılmadı. Sayfayı yenileyip yeniden "
    "deneyiniz."
)
CLOCK_OFF = _(
    "İmzanın zamanı, metnin hazırlandığı zamanla uyuşmuyor; işleminiz yapılmadı. "
    "Bilgisayarınızın saatini kontrol edip yeniden deneyiniz."
)
USED = _("Bu metin daha önce imzalanıp kullanıldı; işleminiz yapılmadı. Yeniden deneyiniz.")
IDENTITY_UNSUPPORTED = _(
    "Kimlik numaranız kartla imza metnine yazılamıyor; bu işlemi SMS Onay Kodu ile yapınız."
)


class CardSigningRefused(Exception):
    """The signing was refused. ``reason`` is for the audit log, ``message`` for the citizen,
    ``status`` the HTTP status of the answer."""

    def __init__(self, reason: str, message: Any, *, status: int = 400, **data: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message
        self.status = status
        self.data = data


@dataclass(frozen=True)
class Operation:
    """What a text signs: a consent change (``scope``) or a decision (``application``)."""

    action: str
    scope: str | None = None
    application: Application | None = None

    @classmethod
    def consent(cls, scope: str, give: bool) -> Operation:
        action = fmt.CONSENT_GIVE if give else fmt.CONSENT_WITHDRAW
        return cls(action, scope=Consent.Scope(scope).value)

    @classmethod
    def decision(cls, application: Application, approve: bool) -> Operation:
        action = fmt.APPLICATION_APPROVE if approve else fmt.APPLICATION_REJECT
        return cls(action, application=application)

    @property
    def subject(self) -> str:
        if self.application is not None:
            return self.application.reference or ""
        return self.scope or ""

    @property
    def key(self) -> str:
        """The operation as the session names it (the application by id and reference)."""
        if self.application is not None:
            return f"{self.action}:{self.application.pk}:{self.application.reference}"
        return f"{self.action}:{self.scope}"


def _clean(value: str, limit: int) -> str:
    """Staff-entered text inside the statement: one line, no control characters, cut."""
    text = "".join(ch if ch.isprintable() else " " for ch in value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def statement_for(operation: Operation) -> str:
    """The Turkish sentence the citizen reads and signs (the legal text is Turkish, whatever
    the page's language)."""
    with translation.override("tr"):
        if operation.application is not None:
            application = operation.application
            facts = {
                "ref": application.reference,
                "kind": str(application.get_kind_display()),
                "institution": _clean(application.institution_name, 120),
                "tax": application.institution_tax_number,
            }
            if operation.action == fmt.APPLICATION_APPROVE:
                sentence = (
                    "{ref} numaralı {kind} başvurusunu ({institution}, VKN {tax}) onaylıyorum; "
                    "başvurunun işleme alınmasını kabul ediyorum."
                )
            else:
                sentence = (
                    "{ref} numaralı {kind} başvurusunu ({institution}, VKN {tax}) reddediyorum; "
                    "bu başvuru işleme alınmayacaktır."
                )
            return sentence.format(**facts)
        label = str(Consent.Scope(operation.scope or "").label)
        if operation.action == fmt.CONSENT_GIVE:
            return (
                f"{label} kapsamında kurumumun adıma gireceği başvuruların, ayrıca onayım "
                "beklenmeden otomatik olarak onaylanmasına sürekli onay veriyorum."
            )
        return (
            f"{label} kapsamında verdiğim sürekli onayı geri alıyorum; bu kapsamdaki yeni "
            "başvurular onayımı bekleyecektir."
        )


def _identifier(citizen: Citizen) -> str:
    try:
        return fmt.citizen_identifier(
            tckn=citizen.tckn or None, passport_no=citizen.passport_no or None
        )
    except fmt.ConsentTextError:
        raise CardSigningRefused("identity_unsupported", IDENTITY_UNSUPPORTED) from None


def prepare(
    session: SessionBase, citizen: Citizen, operation: Operation, *, now: datetime | None = None
) -> dict[str, str]:
    """Make the text of ``operation`` and keep it as the session's one pending text."""
    now = (now or timezone.now()).replace(microsecond=0)
    statement = statement_for(operation)
    text = fmt.build_text(
        operation.action,
        scope=operation.scope,
        application=operation.application.reference if operation.application else None,
        citizen=_identifier(citizen),
        time=now,
        nonce=secrets.token_bytes(fmt.NONCE_BYTES),
        statement=statement,
    )
    session[SESSION_PENDING] = {
        "op": operation.key,
        "text": text,
        "at": now.timestamp(),
        "citizen": citizen.pk,
    }
    return {"text": text, "statement": statement}


def take_pending(
    session: SessionBase, citizen: Citizen, operation: Operation, *, now: datetime
) -> str:
    """The pending text of ``operation``, taken out of the session (used once, whatever
    follows); :class:`CardSigningRefused` if there is none, it is another operation's or it
    is too old."""
    pending = session.pop(SESSION_PENDING, None)
    if not isinstance(pending, dict) or pending.get("citizen") != citizen.pk:
        raise CardSigningRefused("no_pending_text", NO_PENDING)
    if pending.get("op") != operation.key:
        raise CardSigningRefused("other_operation", OTHER_OPERATION, status=409)
    at = pending.get("at")
    if not isinstance(at, int | float) or not isinstance(pending.get("text"), str):
        raise CardSigningRefused("no_pending_text", NO_PENDING)
    made = datetime.fromtimestamp(at, tz=timezone.get_current_timezone())
    if not (made - CLOCK_SKEW <= now <= made + PENDING_MAX_AGE):
        raise CardSigningRefused("pending_text_expired", NO_PENDING)
    return str(pending["text"])


def _refusal_for_certificate(problem: str, serial: str) -> CardSigningRefused:
    code = problem.removeprefix("certificate_")
    message = CERTIFICATE_MESSAGES.get(code, SIGNATURE_FAILED)
    return CardSigningRefused(problem, message, serial=serial)


def _check_certificate(signed: fmt.SignedConsent, citizen: Citizen, now: datetime) -> Certificate:
    try:
        row = our_certificate(signed.certificate)
    except EsignFailed as exc:
        raise CardSigningRefused(exc.reason, SIGNATURE_FAILED) from None
    names = signed.certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    if (
        row.citizen_id != citizen.pk
        or len(names) != 1
        or not pki.identity_matches(
            str(names[0].value),
            tckn=citizen.tckn or None,
            passport_no=citizen.passport_no or None,
        )
    ):
        raise CardSigningRefused("certificate_other_citizen", NOT_YOURS, serial=row.serial_number)
    problem = certificate_problem(signed.certificate, row, now)
    if problem:
        raise _refusal_for_certificate(problem, row.serial_number)
    return row


def _perform(
    operation: Operation,
    citizen: Citizen,
    signature: CardSignature,
    actor: Actor,
    now: datetime,
) -> None:
    """The operation through eonay's services; :class:`CardSigningRefused` (409) if there is
    nothing to do any more (the caller's transaction is then rolled back)."""
    if operation.application is not None:
        approve = operation.action == fmt.APPLICATION_APPROVE
        try:
            decide_application(
                operation.application,
                citizen=citizen,
                approve=approve,
                actor=actor,
                now=now,
                signature=signature,
            )
        except ApplicationError as exc:
            raise CardSigningRefused(
                "already_decided",
                operation.application.decision_refusal() or str(exc),
                status=409,
            ) from None
        return
    scope = operation.scope or ""
    label = Consent.Scope(scope).label
    if operation.action == fmt.CONSENT_GIVE:
        created = give_consent(citizen, scope, actor=actor, now=now, signature=signature)[1]
        if not created:
            raise CardSigningRefused(
                "already_given",
                _("%(scope)s için sürekli onayınız zaten verilmiş.") % {"scope": label},
                status=409,
            )
        return
    if withdraw_consent(citizen, scope, actor=actor, now=now, signature=signature) is None:
        raise CardSigningRefused(
            "nothing_to_withdraw",
            _("%(scope)s için verilmiş bir sürekli onayınız bulunmuyor.") % {"scope": label},
            status=409,
        )


def sign(
    session: SessionBase,
    citizen: Citizen,
    operation: Operation,
    cms_b64: Any,
    *,
    actor: Actor,
    now: datetime | None = None,
) -> CardSignature:
    """Verify the posted CMS over the session's pending text and perform ``operation`` with it
    (see the module docstring). Raises :class:`CardSigningRefused` (audited) on any failure."""
    now = now or timezone.now()
    serial = ""
    try:
        text = take_pending(session, citizen, operation, now=now)
        if not isinstance(cms_b64, str) or not cms_b64 or len(cms_b64) > MAX_CMS_B64_CHARS:
            raise CardSigningRefused("cms_missing", SIGNATURE_FAILED)
        try:
            signed = fmt.verify_cms(fmt.decode_cms(cms_b64), text)
        except fmt.ConsentSignatureError as exc:
            raise CardSigningRefused(exc.reason, SIGNATURE_FAILED) from None
        row = _check_certificate(signed, citizen, now)
        serial = row.serial_number
        parsed = fmt.parse_text(text)
        if abs(signed.signing_time - parsed.time) > CLOCK_SKEW:
            raise CardSigningRefused("signing_time_off", CLOCK_OFF, serial=serial)
        try:
            with transaction.atomic():
                # The live status once more, under the row's lock: a suspension that commits
                # while we verify wins over the signature.
                locked = Certificate.objects.select_for_update().get(pk=row.pk)
                problem = certificate_problem(signed.certificate, locked, now)
                if problem:
                    raise _refusal_for_certificate(problem, serial)
                try:
                    with transaction.atomic():
                        signature = CardSignature.objects.create(
                            citizen=citizen,
                            certificate=locked,
                            action=parsed.action,
                            subject=parsed.subject,
                            text=text,
                            nonce=fmt.nonce_text(parsed.nonce),
                            cms=fmt.decode_cms(cms_b64),
                            signing_time=signed.signing_time,
                            verified_at=now,
                        )
                except IntegrityError:
                    raise CardSigningRefused("text_used", USED, status=409, serial=serial) from None
                _perform(operation, citizen, signature, actor, now)
        except CardSigningRefused as exc:
            exc.data.setdefault("serial", serial)
            raise
    except CardSigningRefused as exc:
        record(
            "nes.eonay.card_signature_refused",
            citizen=citizen,
            actor=actor,
            subject=operation.subject,
            reason=exc.reason,
            wanted=operation.action,
            **{k: v for k, v in exc.data.items() if v},
        )
        raise
    return signature
