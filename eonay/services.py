"""E-Onay workflows: entering an application, the citizen's decision, standing consent.

Every change writes an audit entry (``nes.eonay.*``) and tells the citizen by SMS, in the
transaction of the model method that makes it (``Application.enter`` / ``.decide``,
``Consent.objects.give``, ``Consent.withdraw``). Standing consent and entering an application
both take the citizen's row lock first (in those methods; held until these transactions
commit), so an application entered while the citizen withdraws their consent is either approved
by a consent that was active or waits; never approved by a consent withdrawn before it.

The citizen's own changes (a decision, giving or withdrawing a consent) are confirmed either
with an SMS Onay Kodu (``eonay.views``) or with the citizen's card: then ``esign.card_eonay``
has verified a ``CardSignature`` and passes it as ``signature``; it is stored with the row and
named in the audit entry (``method="card"``, the certificate's serial, the signature's id).
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import Citizen, SmsMessage
from accounts.sms_queue import queue_sms
from audit.actor import Actor
from audit.log import record
from receipts.models import Receipt
from receipts.services import issue_receipt

from .models import Application, ApplicationError, CardSignature, Consent, ConsentError

# What the SMS names (accounts.sms_texts.DECISIONS / CONSENT_STATES): codes, which the text
# names in the holder's language.
DECISION_CODES = {True: "approved", False: "rejected"}
BY_CONSENT = "by_consent"


def _state(state: str, scope: str) -> dict[str, str]:
    """The EONAY_CONSENT SMS context: the state's code and the scope's label as its msgid
    (the Turkish text, translated when the SMS is rendered)."""
    with translation.override("tr"):
        return {"state": state, "scope": str(Consent.Scope(scope).label)}


def _method(signature: CardSignature | None) -> dict[str, str | int]:
    """How the citizen confirmed, for the audit entry (nothing added for the SMS Onay Kodu:
    that path's entries stay as they were)."""
    if signature is None:
        return {}
    return {
        "method": "card",
        "serial": signature.certificate.serial_number,
        "signature": signature.pk,
    }


def active_consent(citizen: Citizen, scope: str | None) -> Consent | None:
    return Consent.objects.active(citizen, scope)


def enter_application(
    application: Application,
    *,
    actor: Actor,
    notify: bool = True,
    now: datetime | None = None,
) -> Application:
    """Save an application a staff member (``actor.user``) entered (unsaved ``application``,
    fields filled in).

    If the citizen's standing consent covers its kind it is approved at once by that consent;
    otherwise it waits and the citizen gets an SMS (``notify=False`` for demo data).
    """
    if application.pk is not None:
        raise ValueError("enter_application saves new applications only")
    citizen = application.citizen
    with transaction.atomic():
        consent = application.enter(entered_by=actor.user, now=now)
        record(
            "nes.eonay.application_entered",
            citizen=citizen,
            actor=actor,
            subject=application.reference or "",
            kind=application.kind,
            institution=application.institution_name,
            institution_tax_number=application.institution_tax_number,
        )
        if consent is not None:
            record(
                "nes.eonay.approved_by_consent",
                citizen=citizen,
                actor=actor,
                subject=application.reference or "",
                consent=consent.pk,
                scope=consent.scope,
                note="approved by standing consent",
            )
            if notify:
                queue_sms(
                    citizen,
                    SmsMessage.Kind.EONAY_DECIDED,
                    actor=actor,
                    context={
                        "application": application.reference or "",
                        "decision": BY_CONSENT,
                    },
                )
        elif notify:
            queue_sms(
                citizen,
                SmsMessage.Kind.EONAY_WAITING,
                actor=actor,
                context={"application": application.reference or ""},
            )
    return application


def decide_application(
    application: Application,
    *,
    citizen: Citizen,
    approve: bool,
    actor: Actor | None = None,
    now: datetime | None = None,
    signature: CardSignature | None = None,
) -> Application:
    """The citizen's own, final decision, with its receipt (``receipts``, same transaction).
    ``signature``: the citizen's verified card signature of it (None: the SMS Onay Kodu).
    Raises ``ApplicationError`` if it was decided before (then there is no receipt)."""
    if application.citizen_id != citizen.pk:
        raise ApplicationError(_("Bu başvuru size ait değil."))
    if signature is not None and signature.citizen_id != citizen.pk:
        raise ValueError("the signature is another citizen's")
    try:
        with transaction.atomic():
            application.decide(approve=approve, now=now, signature=signature)
            assert application.decided_at is not None
            receipt = issue_receipt(
                citizen,
                Receipt.Kind.EONAY_DECISION,
                subject=application.reference or "",
                actor=actor,
                now=application.decided_at,
                facts={
                    "application": application.reference or "",
                    "application_kind": application.kind,
                    "institution": application.institution_name,
                    "institution_tax_number": application.institution_tax_number,
                    "decision": Application.Action.APPROVE
                    if approve
                    else Application.Action.REJECT,
                    "decided_at": application.decided_at.isoformat(),
                },
            )
            record(
                "nes.eonay.approved" if approve else "nes.eonay.rejected",
                citizen=citizen,
                actor=actor,
                subject=application.reference or "",
                note="decided by the citizen after an SMS code"
                if signature is None
                else "decided by the citizen, signed with their card",
                receipt=receipt.reference,
                **_method(signature),
            )
            queue_sms(
                citizen,
                SmsMessage.Kind.EONAY_DECIDED,
                actor=actor,
                context={
                    "application": application.reference or "",
                    "decision": DECISION_CODES[approve],
                    "receipt": receipt.reference,
                },
            )
    except ApplicationError:
        # Decided before (another tab, a replayed request): the refusal is audited too.
        record(
            "nes.eonay.refused",
            citizen=citizen,
            actor=actor,
            subject=application.reference or "",
            wanted="approve" if approve else "reject",
            status=application.status,
            **_method(signature),
        )
        raise
    return application


def cancel_application(application: Application, *, actor: Actor, reason: str) -> Application:
    """A supervisor cancels an application entered by mistake (it must still wait).

    Audited with the staff member and the reason (``nes.eonay.cancelled``); a refusal (decided
    or cancelled meanwhile) is audited too and raises ``ApplicationError``. No SMS: the citizen
    was only told it waits, and the E-Onay page now shows it as cancelled.
    """
    try:
        with transaction.atomic():
            application.cancel(by_user=actor.audit_user, reason=reason)
            record(
                "nes.eonay.cancelled",
                citizen=application.citizen,
                actor=actor,
                subject=application.reference or "",
                reason=reason,
            )
    except ApplicationError:
        record(
            "nes.eonay.refused",
            citizen=application.citizen,
            actor=actor,
            subject=application.reference or "",
            wanted="cancel",
            status=application.status,
        )
        raise
    return application


def give_consent(
    citizen: Citizen,
    scope: str,
    *,
    actor: Actor | None = None,
    now: datetime | None = None,
    signature: CardSignature | None = None,
) -> tuple[Consent, bool]:
    """Give a standing consent for ``scope``. Returns (consent, created); idempotent (an
    active consent is returned as it is, without ``signature``: the citizen's verified card
    signature of it, None for the SMS Onay Kodu)."""
    if signature is not None and signature.citizen_id != citizen.pk:
        raise ValueError("the signature is another citizen's")
    with transaction.atomic():
        consent, created = Consent.objects.give(citizen, scope, now=now, signature=signature)
        if not created:
            return consent, False
        record(
            "nes.eonay.consent_given",
            citizen=citizen,
            actor=actor,
            subject=scope,
            consent=consent.pk,
            **_method(signature),
        )
        queue_sms(
            citizen,
            SmsMessage.Kind.EONAY_CONSENT,
            actor=actor,
            context=_state("given", scope),
        )
    return consent, True


def withdraw_consent(
    citizen: Citizen,
    scope: str,
    *,
    actor: Actor | None = None,
    now: datetime | None = None,
    signature: CardSignature | None = None,
) -> Consent | None:
    """Withdraw the active standing consent for ``scope``; None if there was none.
    ``signature``: the citizen's verified card signature of it (None: the SMS Onay Kodu)."""
    if signature is not None and signature.citizen_id != citizen.pk:
        raise ValueError("the signature is another citizen's")
    with transaction.atomic():
        consent = active_consent(citizen, scope)
        if consent is None:
            return None
        try:
            consent.withdraw(now=now, signature=signature)
        except ConsentError:
            return None  # withdrawn meanwhile (another tab): nothing left to do
        record(
            "nes.eonay.consent_withdrawn",
            citizen=citizen,
            actor=actor,
            subject=scope,
            consent=consent.pk,
            **_method(signature),
        )
        queue_sms(
            citizen,
            SmsMessage.Kind.EONAY_CONSENT,
            actor=actor,
            context=_state("withdrawn", scope),
        )
    return consent
