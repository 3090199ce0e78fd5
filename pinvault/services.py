"""PIN/PUK Bilgisi and Kilit Çözme workflows: vault access + audit entry + SMS notice.

Security contract
-----------------
* Plaintext PIN/PUK leave this module only as the return value of ``reveal_secrets``,
  ``unlock_card`` (the new PIN) and ``save_pdf`` (inside the PDF). They are held in ``Secret``
  objects whose ``repr`` hides the value, so a traceback, a log line or a debug page that
  prints them shows ``Secret(***)``. They are never put into the session, the messages
  framework, a URL, the audit log or an SMS (notices name the card serial only).
* Every action writes one audit entry (``nes.pinpuk.viewed`` / ``saved`` / ``deleted``,
  ``nes.card.unlocked``) and queues the holder's SMS notice in the same transaction.
* The card's state changes only through its model methods (``AkisCard.unlock``,
  ``.destroy_secrets``), which lock the row and check the state; each workflow here runs the
  method, the vault write, the audit entry and the SMS in one transaction, so the row lock is
  held until all of it commits. Two parallel confirmations of ``unlock_card`` give one unlock:
  the second sees an active card and is refused.
* The callers (``pinvault.views``) have already checked ownership and the SMS step-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_variables

from accounts.models import Citizen, SmsMessage
from accounts.sms_queue import queue_sms
from audit.actor import Actor
from audit.log import record
from nesportal.contact import CALL_CENTRE_PHONE
from receipts.models import Receipt
from receipts.services import issue_receipt

from . import pins, vault
from .models import AkisCard, CardUnlock, PinVaultError, VaultEntry
from .pdf import PinPukSheet, render_pdf

__all__ = ["PinVaultError"]  # defined with the model (its transitions raise it), used from here

State = AkisCard.State
Field = VaultEntry.Field


class Secret:
    """A PIN or PUK on its way to a page or a PDF: ``str()`` gives it, ``repr()`` hides it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def __str__(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(***)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class Revealed:
    pin: Secret | None
    puk: Secret | None

    @property
    def anything(self) -> bool:
        return self.pin is not None or self.puk is not None


@dataclass(frozen=True)
class UnlockResult:
    pin: Secret
    unlock: CardUnlock


# --- the seed's warnings, shared by the pages and the PDF -----------------------------------

WARNINGS_TITLE = gettext_lazy(
    "PIN bilgisinin kullanılması ve saklanması ile ilgili uyarıların tamamı DİKKATLE okunmalıdır:"
)
SAFEKEEPING_WARNINGS = (
    gettext_lazy(
        "PIN bilgisinin güvenli olarak muhafaza edilmesi kart sahibinin sorumluluğundadır. PIN/PUK "
        "bilgisi, kart sahibi tarafından silininceye kadar sistemimizde şifreli olarak tutulur."
    ),
    gettext_lazy(
        "“Parolalarımı Kaydet” butonuna basılarak oluşturulan, PIN bilgisinin yer aldığı PDF "
        "dosyasının güvenli bir yerde saklanması, ayrıca PIN bilgisinin yazıcıdan çıktısı "
        "alınarak basılı kopyasının da saklanması önerilir."
    ),
    gettext_lazy(
        "PIN bilgisi doğru olarak kaydedildiğinden ve çıktısı alındığından emin olduktan sonra "
        "“Parolalarımı Sil” butonuna basılarak sistemimizden silinmesi önerilir. “Parolalarımı "
        "Sil” butonuna basıldığında PIN/PUK bilgisi sistemden, bir daha görüntülenemeyecek "
        "şekilde tamamen silinir; sertifika hizmet sağlayıcı da silinen bilgiyi hiçbir şekilde "
        "gösteremez."
    ),
)
LOCKED_PIN_RULE = gettext_lazy(
    "PIN'in 3 (üç) kez hatalı girilmesi durumunda kart kilitlenir; “Kilit Çözme” seçeneğine "
    "tıklanarak PIN yenilenir."
)
PUK_RULE = gettext_lazy(
    "01.01.2011 tarihinden önce üretilen akıllı kartların kilidi, PUK kodu ile AKİS Kart İzleme "
    "Aracı'ndan çözülür. PUK bilgisi, kart sahibi tarafından silinmediyse ve değiştirilmediyse "
    "PIN/PUK Bilgisi sayfasından alınabilir; silinen PUK bilgisi sertifika hizmet sağlayıcı "
    "tarafından da hiçbir şekilde görüntülenemez. Yetkisiz veya hatalı olarak yapılan 3 (üç) PUK "
    "giriş denemesiyle kart kullanım dışı kalır ve bir daha kullanılamaz; bu durumda kart ücret "
    "karşılığında yenilenir."
)
PORTAL_RULE = gettext_lazy(
    "01.01.2011 ve sonrasında üretilen kartların kilidi ise bu sitede “Kilit Çözme” seçilerek, "
    "PUK bilgisi girilmeden çözülür ve yeni PIN oluşturulur. AKİS Kart İzleme Aracı'nda çıkan "
    "“PIN kilitlendi. PUK ile kilit çözebilirsiniz.” uyarısını dikkate almayınız: bu uyarı, "
    "01.01.2011 öncesinde üretilen ve hâlâ geçerli olan kartlar nedeniyle çıkmaktadır."
)


def unlock_rule(card: AkisCard) -> str:
    return str(PUK_RULE if card.unlocks_with_puk else PORTAL_RULE)


def warnings_for(card: AkisCard) -> list[str]:
    """The seed's warnings, with the unlock rule of the card's production date."""
    return [str(w) for w in SAFEKEEPING_WARNINGS] + [str(LOCKED_PIN_RULE), unlock_rule(card)]


# --- reading ------------------------------------------------------------------------------


def stored_fields(card: AkisCard) -> set[str]:
    """Which secrets the vault holds for the card (no decryption: row existence only)."""
    return set(VaultEntry.objects.filter(card=card).values_list("field", flat=True))


@sensitive_variables("pin", "puk")
def reveal_secrets(card: AkisCard) -> Revealed:
    """PIN and PUK from the vault (``None`` for one that is not stored). No audit: see below."""
    pin = vault.reveal(card, Field.PIN)
    puk = vault.reveal(card, Field.PUK)
    return Revealed(
        pin=Secret(pin) if pin is not None else None,
        puk=Secret(puk) if puk is not None else None,
    )


def record_viewed(
    card: AkisCard,
    *,
    actor: Actor | None,
    fields: list[str],
    via: str,
    notify: bool,
) -> None:
    """Audit one display of secrets; the SMS notice goes with the first display of a step-up."""
    with transaction.atomic():
        record(
            "nes.pinpuk.viewed",
            citizen=card.citizen,
            actor=actor,
            card=card.serial_number,
            fields=sorted(fields),
            via=via,
        )
        if notify:
            queue_sms(
                card.citizen,
                SmsMessage.Kind.PINPUK_VIEWED,
                actor=actor,
                context={"card": card.serial_number},
            )


# --- Parolalarımı Kaydet --------------------------------------------------------------------


def mask_identifier(citizen: Citizen) -> tuple[str, str]:
    """(label, masked number): T.C. Kimlik No as 1000*****46; a passport keeps 2 + 2 characters."""
    if citizen.tckn:
        tckn = citizen.tckn
        return _("T.C. Kimlik No"), tckn[:4] + "*" * (len(tckn) - 6) + tckn[-2:]
    passport = citizen.passport_no or ""
    keep = 2 if len(passport) > 5 else 1
    return _("Pasaport No"), passport[:keep] + "*" * max(len(passport) - 2 * keep, 1) + passport[
        -keep:
    ]


def pdf_filename(card: AkisCard) -> str:
    """The download's name: the card serial only, never a secret."""
    safe = "".join(
        ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "-" for ch in card.serial_number
    )
    return f"pin-puk-{safe}.pdf"


@sensitive_variables("secrets_", "sheet", "password")
def save_pdf(
    card: AkisCard,
    *,
    actor: Actor | None,
    password: str | None = None,
    now: datetime | None = None,
) -> bytes:
    """The "Parolalarımı Kaydet" PDF, encrypted with ``password`` if given; audited + SMS."""
    now = timezone.localtime(now or timezone.now())
    secrets_ = reveal_secrets(card)
    if not secrets_.anything:
        raise PinVaultError(_("Bu kartın PIN/PUK bilgisi sistemde bulunmuyor; PDF oluşturulamaz."))
    citizen = card.citizen
    id_label, masked = mask_identifier(citizen)
    deleted = (
        _("Silindi (%(date)s); gösterilemez.")
        % {"date": timezone.localtime(card.secrets_deleted_at).strftime("%d.%m.%Y %H:%M")}
        if card.secrets_deleted_at
        else _("Sistemde kayıtlı değil.")
    )
    sheet = PinPukSheet(
        holder_name=citizen.full_name,
        id_label=id_label,
        masked_id=masked,
        card_serial=card.serial_number,
        produced_on=card.produced_on,
        created_at=now,
        pin=str(secrets_.pin) if secrets_.pin else None,
        puk=str(secrets_.puk) if secrets_.puk else None,
        missing_text=deleted,
        title=_("PIN/PUK Bilgisi"),
        subtitle=_("NES Portal · Bireysel Nitelikli Elektronik Sertifika İşlemleri"),
        labels={
            "holder": _("Kart sahibi"),
            "serial": _("Kart seri numarası"),
            "produced_on": _("Kartın üretim tarihi"),
            "created_at": _("Belge tarihi"),
        },
        notice=_(
            "Bu belge gizlidir. Güvenli bir yerde saklayınız, yazıcıdan çıktısını alınız ve "
            "kimseyle paylaşmayınız."
        ),
        warnings_title=str(WARNINGS_TITLE),
        warnings=tuple(warnings_for(card)),
        footer=_(
            "NES Portal · Çağrı Merkezi %(phone)s · Sertifika hizmet sağlayıcı PIN veya PUK "
            "bilginizi telefonla, e-postayla ya da SMS ile hiçbir zaman sormaz."
        )
        % {"phone": CALL_CENTRE_PHONE},
    )
    data = render_pdf(sheet, password=password or None)
    with transaction.atomic():
        record(
            "nes.pinpuk.saved",
            citizen=citizen,
            actor=actor,
            card=card.serial_number,
            encrypted=bool(password),
            fields=[name for name in ("pin", "puk") if getattr(secrets_, name) is not None],
        )
        queue_sms(
            citizen,
            SmsMessage.Kind.PINPUK_SAVED,
            actor=actor,
            context={"card": card.serial_number},
        )
    return data


# --- Parolalarımı Sil -----------------------------------------------------------------------


def delete_secrets(card: AkisCard, *, actor: Actor | None) -> int:
    """Destroy the card's vault rows for good (``AkisCard.destroy_secrets``); audited + SMS,
    with a receipt (``receipts``) issued in the same transaction.

    Refused (``PinVaultError``) while a portal unlock waits for the card tool: its new PIN is
    in the vault and the tool could no longer write it to the card. Returns the number of rows
    deleted (0: nothing was left, nothing is recorded, no receipt).
    """
    with transaction.atomic():
        # Which secrets go (names only, for the receipt), read under the card's row lock that
        # destroy_secrets takes again: nothing can be stored or deleted in between.
        AkisCard.objects.select_for_update().only("pk").get(pk=card.pk)
        fields = sorted(stored_fields(card) & {Field.PIN, Field.PUK})
        deleted = card.destroy_secrets()
        if not deleted:
            return 0
        assert card.secrets_deleted_at is not None
        receipt = issue_receipt(
            card.citizen,
            Receipt.Kind.PINPUK_DELETION,
            subject=card.serial_number,
            actor=actor,
            now=card.secrets_deleted_at,
            facts={
                "card": card.serial_number,
                "fields": [str(name) for name in fields],
                "entries": deleted,
                "deleted_at": card.secrets_deleted_at.isoformat(),
            },
        )
        record(
            "nes.pinpuk.deleted",
            citizen=card.citizen,
            actor=actor,
            card=card.serial_number,
            entries=deleted,
            receipt=receipt.reference,
        )
        queue_sms(
            card.citizen,
            SmsMessage.Kind.PINPUK_DELETED,
            actor=actor,
            context={"card": card.serial_number, "receipt": receipt.reference},
        )
    return deleted


# --- Kilit Çözme ----------------------------------------------------------------------------


def unlock_refusal(card: AkisCard) -> str | None:
    """Why the portal cannot unlock this card now, or None if it can (``AkisCard``'s answer)."""
    return card.unlock_refusal()


@sensitive_variables("new_pin")
def unlock_card(
    card: AkisCard, *, actor: Actor | None, now: datetime | None = None
) -> UnlockResult:
    """New PIN for a PIN-locked card produced on or after 01.01.2011 (no PUK).

    In one transaction, under the card's row lock that ``AkisCard.unlock`` takes (and that
    holds until the commit): the card becomes active with a pending ``CardUnlock`` (replacing
    one the tool has not applied yet), and a fresh PIN (``pins.new_pin``) is stored as the
    card's ``pin`` and as its ``unlock_pin`` (which the card tool fetches and writes to the
    card). Raises ``PinVaultError`` if the card's state does not allow it.
    """
    with transaction.atomic():
        unlocked = card.unlock(now=now)
        new_pin = pins.new_pin()
        vault.store(card, Field.PIN, new_pin)
        vault.store(card, Field.UNLOCK_PIN, new_pin)
        record(
            "nes.card.unlocked",
            citizen=card.citizen,
            actor=actor,
            card=card.serial_number,
            unlock_id=unlocked.unlock.pk,
            superseded_unlock_id=unlocked.superseded_id,
        )
        queue_sms(
            card.citizen,
            SmsMessage.Kind.CARD_UNLOCKED,
            actor=actor,
            context={"card": card.serial_number},
        )
    return UnlockResult(pin=Secret(new_pin), unlock=unlocked.unlock)
