"""AKİS cards and their unlocks in admin, read-only, and never a secret.

Staff see a card's state, wrong-PUK count, whether the vault still holds its PIN/PUK (yes/no,
which fields, under which master key id) and when the holder deleted them. No PIN, PUK or
ciphertext is ever read for these pages: the vault columns are fetched with ``values_list`` of
the non-secret columns, and ``VaultEntry`` has no admin of its own. Cards and unlocks change
only through the citizen's pages, the card tool API and ``manage.py card_tool``.

The citizen's page lists their cards (state, wrong-PUK count, unlock route, whether the vault
holds PIN/PUK: yes/no) read-only, through ``accounts.admin.add_citizen_inline``: a card made
unusable by three wrong PUKs is why the citizen calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.admin.utils import quote
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from accounts.admin import add_citizen_inline
from nesportal.adminkit import ReadOnlyAdminMixin

from .models import PORTAL_UNLOCK_FROM, AkisCard, CardUnlock, VaultEntry

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

PIN_PUK = [VaultEntry.Field.PIN, VaultEntry.Field.PUK]


class UnlockMethodFilter(admin.SimpleListFilter):
    title = _("kilit çözme yolu")
    parameter_name = "kilit_cozme"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
        return [
            ("puk", _("PUK ile (01.01.2011 öncesi)")),
            ("portal", _("Portalda, PUK'suz (01.01.2011 ve sonrası)")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[AkisCard]) -> QuerySet[AkisCard]:
        if self.value() == "puk":
            return queryset.filter(produced_on__lt=PORTAL_UNLOCK_FROM)
        if self.value() == "portal":
            return queryset.filter(produced_on__gte=PORTAL_UNLOCK_FROM)
        return queryset


class CardUnlockInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CardUnlock
    fields = ("created_at", "applied_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = _("kilit çözmeler (kart aracının uygulaması)")


def _holder(card: AkisCard) -> str:
    citizen = card.citizen
    return format_html(
        '<a href="{}">{}</a> ({})',
        reverse("admin:accounts_citizen_change", args=[citizen.pk]),
        citizen.full_name,
        citizen.identifier,
    )


def _with_vault_flag(queryset: QuerySet[AkisCard]) -> QuerySet[AkisCard]:
    """``pin_puk_in_vault``: whether vault rows exist (EXISTS on the card id; no column of the
    vault is read)."""
    in_vault = VaultEntry.objects.filter(card=OuterRef("pk"), field__in=PIN_PUK)
    return queryset.annotate(pin_puk_in_vault=Exists(in_vault))


@add_citizen_inline
class CitizenCardInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The citizen's AKİS cards on their page; never a secret (see the module docstring)."""

    model = AkisCard
    fk_name = "citizen"
    classes = ["nes-console"]  # admin-console.css: no str(row) line above each row
    fields = readonly_fields = (
        "serial_col",
        "produced_on",
        "state",
        "wrong_puk_count",
        "route_col",
        "in_vault_col",
    )
    extra = 0
    can_delete = False
    verbose_name_plural = _("AKİS kartlar")

    def get_queryset(self, request: HttpRequest) -> QuerySet[AkisCard]:
        return _with_vault_flag(super().get_queryset(request))

    @admin.display(description=_("kart seri numarası"))
    def serial_col(self, obj: AkisCard) -> SafeString:
        url = reverse("admin:pinvault_akiscard_change", args=[quote(obj.pk)])
        return format_html('<a href="{}">{}</a>', url, obj.serial_number)

    @admin.display(description=_("kilit çözme yolu"))
    def route_col(self, obj: AkisCard) -> StrOrPromise:
        return _("PUK ile (kart aracı)") if obj.unlocks_with_puk else _("Portalda, PUK'suz")

    @admin.display(description=_("PIN/PUK kasada"), boolean=True)
    def in_vault_col(self, obj: AkisCard) -> bool:
        return obj.pin_puk_in_vault  # type: ignore[attr-defined]


@admin.register(AkisCard)
class AkisCardAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "serial_number",
        "holder_col",
        "produced_on",
        "state",
        "wrong_puk_count",
        "in_vault_col",
        "secrets_deleted_at",
    ]
    list_filter = ["state", UnlockMethodFilter]
    list_select_related = ["citizen"]
    search_fields = ["=serial_number", "=citizen__tckn", "=citizen__passport_no"]
    search_help_text = _("Kart seri numarası veya kart sahibinin T.C. Kimlik No / Pasaport No")
    fields = (
        "serial_number",
        "holder_col",
        "produced_on",
        "unlock_method",
        "state",
        "wrong_puk_count",
        "vault_col",
        "secrets_deleted_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    inlines = [CardUnlockInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[AkisCard]:
        return _with_vault_flag(super().get_queryset(request))

    @admin.display(description=_("kart sahibi"), ordering="citizen__last_name")
    def holder_col(self, obj: AkisCard) -> str:
        return _holder(obj)

    @admin.display(description=_("PIN/PUK kasada"), boolean=True, ordering="pin_puk_in_vault")
    def in_vault_col(self, obj: AkisCard) -> bool:
        return obj.pin_puk_in_vault  # type: ignore[attr-defined]

    @admin.display(description=_("kilit çözme yolu"))
    def unlock_method(self, obj: AkisCard) -> StrOrPromise:
        if obj.unlocks_with_puk:
            return _("PUK ile, AKİS Kart İzleme Aracı'nda (01.01.2011 öncesi üretim)")
        return _("Portalda Kilit Çözme ile, PUK'suz (01.01.2011 ve sonrası üretim)")

    @admin.display(description=_("kasadaki bilgiler"))
    def vault_col(self, obj: AkisCard) -> StrOrPromise:
        # Only the non-secret columns: the ciphertext never leaves the database here.
        rows = (
            VaultEntry.objects.filter(card=obj)
            .order_by("field")
            .values_list("field", "key_id", "updated_at")
        )
        labels = dict(VaultEntry.Field.choices)
        if not rows:
            if obj.secrets_deleted_at:
                return _("Yok: sahibi sildi; bir daha gösterilemez.")
            return _("Yok")
        return format_html_join(
            "",
            "<div>{} — {} {}, {} {}</div>",
            (
                (
                    labels.get(field, field),
                    _("ana anahtar"),
                    key_id,
                    _("kayıt"),
                    date_format(timezone.localtime(updated_at), "DATETIME_FORMAT"),
                )
                for field, key_id, updated_at in rows
            ),
        )


@admin.register(CardUnlock)
class CardUnlockAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["card", "holder_col", "created_at", "applied_at", "pending_col"]
    list_filter = [("applied_at", admin.EmptyFieldListFilter)]
    list_select_related = ["card__citizen"]
    search_fields = ["=card__serial_number", "=card__citizen__tckn", "=card__citizen__passport_no"]
    fields = ("card", "holder_col", "created_at", "applied_at")
    readonly_fields = fields

    @admin.display(description=_("kart sahibi"))
    def holder_col(self, obj: CardUnlock) -> str:
        return _holder(obj.card)

    @admin.display(description=_("kart aracını bekliyor"), boolean=True)
    def pending_col(self, obj: CardUnlock) -> bool:
        return obj.applied_at is None
