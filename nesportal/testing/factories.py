"""factory-boy factories for integrators' and our own tests."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.utils import timezone
from factory.django import DjangoModelFactory

from accounts.callcentre import ensure_call_centre_group
from accounts.identity import tckn_check_digits
from accounts.models import Citizen
from accounts.tokens import token_hash

DEFAULT_SECURITY_WORD = "Güvenli-Sözcük-2026"


def tckn_for(n: int) -> str:
    """A valid T.C. Kimlik No for sequence number ``n`` (distinct for distinct n < 10^8)."""
    first_nine = f"9{n:08d}"
    return first_nine + tckn_check_digits(first_nine)


def mobile_for(n: int) -> str:
    return f"+90532{n % 10_000_000:07d}"


class CitizenFactory(DjangoModelFactory):
    """A citizen whose security word is ``security_word`` (default ``DEFAULT_SECURITY_WORD``),
    hashed with the configured hasher (the cheap Argon2id of ``nesportal.test_settings``).

    ``CitizenFactory(passport=True)`` makes a foreigner identified by a passport number;
    ``locked=True`` a citizen locked by three wrong security words.
    """

    class Meta:
        model = Citizen

    class Params:
        security_word = DEFAULT_SECURITY_WORD
        passport = factory.Trait(tckn=None, passport_no=factory.Sequence(lambda n: f"P{n:08d}"))
        # As three wrong security words leave it (lock_reason may be overridden).
        locked = factory.Trait(
            failure_count=3,
            locked_at=factory.LazyFunction(lambda: timezone.now()),
            lock_reason="wrong_word",
        )

    tckn = factory.Sequence(tckn_for)
    passport_no = None
    first_name = factory.Faker("first_name", locale="tr_TR")
    last_name = factory.Faker("last_name", locale="tr_TR")
    birth_date = dt.date(1985, 4, 23)
    mobile_phone = factory.Sequence(mobile_for)
    email = factory.LazyAttribute(lambda o: f"vatandas{o.mobile_phone[-7:]}@example.com.tr")
    address = "Atatürk Cad. No: 1, Çankaya / Ankara"
    security_word_hash = factory.LazyAttribute(lambda o: make_password(o.security_word))


class StaffUserFactory(DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"personel{n}")
    is_staff = True
    password = factory.django.Password("Personel-Parola-2026")


class CallCentreAgentFactory(StaffUserFactory):
    """A staff user whose only permissions come from the "Çağrı Merkezi" group."""

    username = factory.Sequence(lambda n: f"cagri{n}")

    @factory.post_generation
    def groups(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.groups.add(ensure_call_centre_group())


# --- helpers ---------------------------------------------------------------------------------

# A card's PIN and PUK when a test does not choose them. Serials have ten digits, so the
# six-digit SMS code stays the only six-digit number in an SMS that names a card.
DEFAULT_PIN = "482913"
DEFAULT_PUK = "73915046"
AFTER_2011 = dt.date(2019, 5, 14)  # unlocked on the portal (Kilit Çözme)
BEFORE_2011 = dt.date(2009, 9, 1)  # unlocked with the PUK in the AKİS card tool
APPLICATION_ENTRY = {
    "institution_name": "Örnek Belediyesi",
    "institution_tax_number": "1234567890",
    "contact_name": "Deniz Kaya",
    "contact_phone": "+903121234567",
    "contact_email": "bilgiislem@ornek.bel.tr",
}


def _hash_or_blank(token: str) -> str:
    return token_hash(token) if token else ""


def _now() -> dt.datetime:
    return timezone.now()


class _KeepAttributes:
    """Mixin: declarations named in ``_KEEP`` are not model fields; ``_create`` receives them
    apart and sets them on the saved object afterwards (e.g. a challenge's binding ``token``)."""

    _KEEP: tuple[str, ...] = ()

    @classmethod
    def _split(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {name: kwargs.pop(name) for name in cls._KEEP if name in kwargs}


# --- accounts --------------------------------------------------------------------------------


class SmsChallengeFactory(_KeepAttributes, DjangoModelFactory):
    """An SMS code request, open unless a trait says otherwise (``consumed``, ``invalidated``,
    ``expired``). The object carries ``token`` (the session binding token) and ``code`` (the code
    the SMS carried, derived like ``accounts.otp`` derives it), so a test can verify it."""

    class Meta:
        model = "accounts.SmsChallenge"

    class Params:
        consumed = factory.Trait(
            consumed_at=factory.LazyAttribute(lambda o: o.created_at + dt.timedelta(seconds=20))
        )
        invalidated = factory.Trait(
            invalidated_at=factory.LazyAttribute(lambda o: o.created_at + dt.timedelta(seconds=70))
        )
        expired = factory.Trait(
            created_at=factory.LazyFunction(lambda: _now() - dt.timedelta(minutes=10))
        )

    _KEEP = ("token",)

    citizen = factory.SubFactory(CitizenFactory)
    purpose = "login"
    subject = ""
    token = factory.Sequence(lambda n: f"test-binding-token-{n}")
    binding_hash = factory.LazyAttribute(lambda o: token_hash(o.token))
    created_at = factory.LazyFunction(_now)
    expires_at = factory.LazyAttribute(lambda o: o.created_at + _challenge_lifetime())

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        from accounts.codes import expected_code

        kept = cls._split(kwargs)
        challenge = super()._create(model_class, *args, **kwargs)
        challenge.token = kept.get("token", "")
        challenge.code = expected_code(challenge)
        return challenge


def _challenge_lifetime() -> dt.timedelta:
    from accounts.models import SmsChallenge

    return SmsChallenge.LIFETIME


class SmsMessageFactory(DjangoModelFactory):
    """An SMS record: ``queued`` by default; traits ``sending``, ``sent``, ``failed``,
    ``suppressed`` give the outcome the sending task would have recorded."""

    class Meta:
        model = "accounts.SmsMessage"

    class Params:
        sending = factory.Trait(status="sending", attempts=1)
        sent = factory.Trait(
            status="sent",
            attempts=1,
            provider_message_id=factory.Sequence(lambda n: f"SM{n:032d}"),
            sent_at=factory.LazyAttribute(lambda o: o.created_at + dt.timedelta(seconds=1)),
        )
        failed = factory.Trait(
            status="failed", attempts=3, failure_reason="Twilio unreachable: ConnectionError"
        )
        suppressed = factory.Trait(status="suppressed")

    citizen = factory.SubFactory(CitizenFactory)
    challenge = None
    kind = "login_code"
    to_number = factory.LazyAttribute(lambda o: o.citizen.mobile_phone)
    created_at = factory.LazyFunction(_now)


class ContactChangeFactory(_KeepAttributes, DjangoModelFactory):
    """A requested contact change, open until ``confirmed``, ``cancelled`` or ``expired``.

    By default a new e-mail address, confirmed by the link whose ``token`` the object carries;
    ``phone=True`` for a new mobile number with its open SMS challenge sent to that number.
    """

    class Meta:
        model = "accounts.ContactChange"

    class Params:
        phone = factory.Trait(
            field="phone",
            new_value=factory.Sequence(lambda n: f"+90533{n % 10_000_000:07d}"),
            old_value=factory.LazyAttribute(lambda o: o.citizen.mobile_phone),
            token="",
            target_key="",
            challenge=factory.SubFactory(
                SmsChallengeFactory,
                citizen=factory.SelfAttribute("..citizen"),
                purpose="phone_change",
                subject=factory.SelfAttribute("..new_value"),
                created_at=factory.SelfAttribute("..created_at"),
            ),
            expires_at=factory.LazyAttribute(lambda o: o.created_at + dt.timedelta(minutes=10)),
        )
        confirmed = factory.Trait(
            confirmed_at=factory.LazyAttribute(lambda o: o.created_at + dt.timedelta(minutes=1))
        )
        cancelled = factory.Trait(
            cancelled_at=factory.LazyAttribute(lambda o: o.created_at + dt.timedelta(minutes=1))
        )
        expired = factory.Trait(
            created_at=factory.LazyFunction(lambda: _now() - dt.timedelta(days=2))
        )

    _KEEP = ("token",)

    citizen = factory.SubFactory(CitizenFactory)
    field = "email"
    old_value = factory.LazyAttribute(lambda o: o.citizen.email)
    new_value = factory.Sequence(lambda n: f"yeni{n}@example.com.tr")
    token = factory.Sequence(lambda n: f"test-email-token-{n}")
    token_hash = factory.LazyAttribute(lambda o: _hash_or_blank(o.token))
    target_key = factory.LazyAttribute(lambda o: o.new_value.lower())
    created_at = factory.LazyFunction(_now)
    expires_at = factory.LazyAttribute(lambda o: o.created_at + dt.timedelta(hours=24))

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        kept = cls._split(kwargs)
        change = super()._create(model_class, *args, **kwargs)
        change.token = kept.get("token", "")
        return change


class WordResetLinkFactory(DjangoModelFactory):
    """An agent's security-word reset link, open until ``used`` or ``expired``. The object
    carries ``token`` (what the SMS link holds; ``accounts.tokens.open_reset_link`` accepts it)."""

    class Meta:
        model = "accounts.WordResetLink"

    class Params:
        used = factory.Trait(
            used_at=factory.LazyAttribute(lambda o: o.created_at + dt.timedelta(minutes=5))
        )
        expired = factory.Trait(
            created_at=factory.LazyFunction(lambda: _now() - dt.timedelta(hours=1))
        )

    citizen = factory.SubFactory(CitizenFactory)
    created_by = factory.SubFactory(CallCentreAgentFactory)
    reason = "Vatandaş Güvenlik Sözcüğünü unuttu (test)."
    # A placeholder until the id exists: the token depends on it (as in the product).
    token_hash = factory.Sequence(lambda n: f"pending-{n:056d}")
    created_at = factory.LazyFunction(_now)
    expires_at = factory.LazyAttribute(lambda o: o.created_at + dt.timedelta(minutes=30))

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        from accounts.tokens import reset_link_token  # derived from the id and the time

        link = super()._create(model_class, *args, **kwargs)
        link.token = reset_link_token(link)
        link.token_hash = token_hash(link.token)
        link.save(update_fields=["token_hash"])
        return link


# --- audit -----------------------------------------------------------------------------------


class AuditEventFactory(DjangoModelFactory):
    """An audit event, appended through ``audit.log.record`` (the log is append-only: the
    factory never builds or changes a row itself). Extra keyword ``data`` becomes its details;
    ``actor`` is an ``audit.actor.Actor`` or a staff user (who acted, without an address)."""

    class Meta:
        model = "audit.AuditEvent"

    action = "nes.test.event"
    citizen = None
    actor = None
    subject = ""
    data = factory.Dict({})

    @classmethod
    def _build(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("audit events are only created, through audit.log.record")

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        from audit.actor import Actor
        from audit.log import record

        data = kwargs.pop("data")
        actor = kwargs.pop("actor")
        if actor is not None and not isinstance(actor, Actor):
            actor = Actor.staff(actor)
        kwargs["actor"] = actor
        return record(kwargs.pop("action"), **kwargs, **data)


# --- certificates ----------------------------------------------------------------------------


class CertificateFactory(DjangoModelFactory):
    """A real certificate from the test PKI (the ``demo_pki`` fixture) in ``state`` (pending,
    active, suspended, revoked, expired), brought there by the model's transitions
    (``nesportal.demo.issue_in_state``). The row carries its ``private_key``.

    An ``active`` certificate cannot be opened while an older one of the same kind is valid:
    give a second one another ``kind`` or an earlier ``now``.
    """

    class Meta:
        model = "certificates.Certificate"

    citizen = factory.SubFactory(CitizenFactory)
    state = "active"
    kind = "nes"
    now = None

    @classmethod
    def _build(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("certificates are only issued (create), from the test PKI")

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        from nesportal.demo import issue_in_state

        row, key = issue_in_state(
            kwargs["citizen"], kwargs["state"], kind=kwargs["kind"], now=kwargs["now"]
        )
        row.private_key = key  # type: ignore[attr-defined]  # a test-only attribute
        return row


class LoginChallengeFactory(_KeepAttributes, DjangoModelFactory):
    """An E-İmzalı Giriş challenge, open until ``used`` or ``expired``; carries ``token`` (the
    browser binding token its ``nes_esign`` cookie would hold)."""

    class Meta:
        model = "esign.LoginChallenge"

    class Params:
        used = factory.Trait(
            used_at=factory.LazyAttribute(lambda o: o.created_at + dt.timedelta(seconds=10))
        )
        expired = factory.Trait(
            created_at=factory.LazyFunction(lambda: _now() - dt.timedelta(minutes=10))
        )

    _KEEP = ("token",)

    token = factory.Sequence(lambda n: f"test-esign-token-{n}")
    nonce = factory.LazyFunction(lambda: secrets.token_bytes(32))
    binding_hash = factory.LazyAttribute(lambda o: token_hash(o.token))
    created_at = factory.LazyFunction(_now)
    expires_at = factory.LazyAttribute(lambda o: o.created_at + dt.timedelta(minutes=2))

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        kept = cls._split(kwargs)
        challenge = super()._create(model_class, *args, **kwargs)
        challenge.token = kept.get("token", "")
        return challenge


# --- pinvault --------------------------------------------------------------------------------


class AkisCardFactory(_KeepAttributes, DjangoModelFactory):
    """An AKİS card with its PIN and PUK in the vault (``pinvault.vault.store``).

    ``pin=None`` / ``puk=None`` leave one out, ``no_secrets=True`` both; ``unlock_pin=…`` adds an
    unlock PIN. States: ``pin_locked=True``, ``unusable=True`` (three wrong PUKs); cards are made
    after 2011 (portal unlock) unless ``before_2011=True`` (PUK in the card tool).
    """

    class Meta:
        model = "pinvault.AkisCard"

    class Params:
        no_secrets = factory.Trait(pin=None, puk=None)
        pin_locked = factory.Trait(state="pin_locked")
        unusable = factory.Trait(state="unusable", wrong_puk_count=3)
        before_2011 = factory.Trait(produced_on=BEFORE_2011)

    _KEEP = ("pin", "puk", "unlock_pin")

    citizen = factory.SubFactory(CitizenFactory)
    serial_number = factory.Sequence(lambda n: f"AKIS-{7_000_000_000 + n * 7919:010d}")
    produced_on = AFTER_2011
    state = "active"
    pin = DEFAULT_PIN
    puk = DEFAULT_PUK
    unlock_pin = None

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        from pinvault import vault

        secrets_ = cls._split(kwargs)
        card = super()._create(model_class, *args, **kwargs)
        for field in cls._KEEP:
            if secrets_.get(field) is not None:
                vault.store(card, field, secrets_[field])
        return card


class CardUnlockFactory(_KeepAttributes, DjangoModelFactory):
    """A portal unlock waiting for the card tool, made by the card's own transition
    (``AkisCard.unlock``: a PIN-locked card from 2011 on becomes active), with the new PIN the
    caller stores: the known ``pin`` (vault ``pin`` and ``unlock_pin``). ``applied=True``: the
    card tool has applied it (``AkisCard.apply_unlock``)."""

    class Meta:
        model = "pinvault.CardUnlock"

    _KEEP = ("pin", "applied")

    card = factory.SubFactory(AkisCardFactory, pin_locked=True)
    pin = "503728"
    applied = False
    now = None

    @classmethod
    def _build(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("unlocks are only made by AkisCard.unlock (create)")

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        from django.db import transaction

        from pinvault import vault

        kept = cls._split(kwargs)
        card = kwargs.pop("card")
        with transaction.atomic():
            unlock = card.unlock(now=kwargs.pop("now")).unlock
            vault.store(card, "pin", kept["pin"])
            vault.store(card, "unlock_pin", kept["pin"])
        if kept.get("applied"):
            unlock, _ = card.apply_unlock(unlock.pk)
        return unlock


# --- eonay -----------------------------------------------------------------------------------


class ConsentFactory(DjangoModelFactory):
    """A standing E-Onay consent (first application by default; ``renewal=True``), given
    through ``Consent.objects.give`` and, with ``withdrawn=True``, withdrawn through
    ``Consent.withdraw`` (now; it was given 30 days ago)."""

    class Meta:
        model = "eonay.Consent"

    class Params:
        renewal = factory.Trait(scope="kurum_odemeli_yenileme")

    citizen = factory.SubFactory(CitizenFactory)
    scope = "kurum_odemeli_ilk"
    withdrawn = False
    given_at = factory.LazyAttribute(lambda o: _now() - dt.timedelta(days=30 * o.withdrawn))

    @classmethod
    def _build(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("consents are only given, through Consent.objects.give (create)")

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        citizen, scope, given_at = kwargs["citizen"], kwargs["scope"], kwargs["given_at"]
        consent, created = model_class.objects.give(citizen, scope, now=given_at)
        if not created:
            raise ValueError("the citizen already has an active consent for this scope")
        if kwargs["withdrawn"]:
            consent.withdraw(now=max(_now(), given_at))
        return consent


class ApplicationFactory(DjangoModelFactory):
    """An application entered by staff (``eonay.services.enter_application``; no SMS unless
    ``notify=True``), in ``state`` ``waiting``, ``approved`` or ``rejected`` (decided by the
    citizen, ``Application.decide``). A standing consent of the citizen approves at entry (then
    any other ``state`` raises ``ApplicationError``)."""

    class Meta:
        model = "eonay.Application"

    citizen = factory.SubFactory(CitizenFactory)
    entered_by = factory.SubFactory(StaffUserFactory)
    kind = "ilk_basvuru"
    institution_name = APPLICATION_ENTRY["institution_name"]
    institution_tax_number = APPLICATION_ENTRY["institution_tax_number"]
    contact_name = APPLICATION_ENTRY["contact_name"]
    contact_phone = APPLICATION_ENTRY["contact_phone"]
    contact_email = APPLICATION_ENTRY["contact_email"]
    state = "waiting"
    notify = False
    now = None

    @classmethod
    def _build(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        for name in ("state", "notify", "now"):
            kwargs.pop(name)
        return super()._build(model_class, *args, **kwargs)

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        from audit.actor import Actor
        from eonay.services import enter_application

        state, notify, now = kwargs.pop("state"), kwargs.pop("notify"), kwargs.pop("now")
        entered_by = kwargs.pop("entered_by")
        application = enter_application(
            model_class(**kwargs), actor=Actor.staff(entered_by), notify=notify, now=now
        )
        if state != "waiting":
            # Raises ApplicationError if a standing consent approved it at entry.
            application.decide(approve=state == "approved", now=now)
        return application
