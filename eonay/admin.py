"""E-Onay in admin: staff enter applications; the citizen alone decides.

* Staff with ``eonay.add_application`` enter an application (citizen by T.C. Kimlik No through
  the autocomplete, kind, institution, contact details). Saving goes through
  ``services.enter_application``: approved at once by an active standing consent that covers its
  kind, otherwise it waits and the citizen gets an SMS.
* Nothing in admin decides. After entry an application is view-only for everyone (superusers
  too): no change, no delete, no actions; status and decision fields are never form fields.
  The decision, its time and how it was made (the citizen's SMS code or a standing consent)
  are shown on the list and on the page.
* Staff with ``eonay.cancel_application`` (the "Çağrı Merkezi Süpervizörü" group) may cancel
  an application entered by mistake while it still waits, with a required reason (the button
  "Başvuruyu iptal et" on its page; ``services.cancel_application``). It is then neither
  approved nor rejected, and no longer waits for the citizen.
* Standing consents are view-only: only the citizen gives or withdraws them.
* A consent or decision the citizen signed with their card shows its ``CardSignature``: the
  certificate's serial, the signing time, the signed text and the CMS to download (public
  evidence: nothing secret is in it). The signatures are view-only too.
* The citizen's page lists their applications read-only (``accounts.admin.add_citizen_inline``).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from accounts.admin import add_citizen_inline
from audit.actor import Actor
from nesportal.adminkit import (
    ObjectAction,
    ObjectActionsAdmin,
    ReadOnlyAdminMixin,
    ReasonAction,
    admin_time,
)

from .models import Application, CardSignature, Consent
from .services import cancel_application, enter_application

ENTRY_FIELDS = [
    "citizen",
    "kind",
    "institution_name",
    "institution_tax_number",
    "contact_name",
    "contact_phone",
    "contact_email",
]
DECISION_FIELDS = ["status", "decided_at", "how_decided", "decided_by_consent"]


class ApplicationEntryForm(forms.ModelForm):
    class Meta:
        model = Application
        fields = ENTRY_FIELDS


def _how_decided(obj: Application) -> str:
    if obj.status == Application.Status.WAITING:
        return str(_("Vatandaşın onayını bekliyor"))
    if obj.status == Application.Status.CANCELLED:
        return str(_("Personel iptal etti (hatalı giriş)"))
    if obj.decided_by_consent_id is not None:
        return str(_("Sürekli onayla otomatik onaylandı"))
    if obj.decision_signature_id is not None:
        if obj.status == Application.Status.APPROVED:
            return str(_("Vatandaş kartıyla imzalayarak onayladı"))
        return str(_("Vatandaş kartıyla imzalayarak reddetti"))
    if obj.status == Application.Status.APPROVED:
        return str(_("Vatandaş SMS Onay Kodu ile onayladı"))
    return str(_("Vatandaş SMS Onay Kodu ile reddetti"))


def _cancel_action(request: HttpRequest) -> ReasonAction:
    def apply(application: Application, reason: str) -> bool:
        cancel_application(application, actor=Actor.from_request(request), reason=reason)
        return True

    return ReasonAction(
        name="cancel",
        title=_("Başvuruyu iptal et"),
        intro=_(
            "Yanlışlıkla girilmiş bu başvuru iptal edilecek: vatandaşın onayını beklemez, "
            "onaylanamaz ve reddedilemez. Bu işlem geri alınamaz. Kimin, neden iptal ettiği "
            "denetim kaydına yazılır."
        ),
        submit_label=_("Başvuruyu iptal et"),
        reason_label=_("İptal gerekçesi"),
        reason_help=_("Ör. yanlış vatandaşa girildi, kurum bildirdi. Gizli bilgi yazmayınız."),
        apply=apply,
        describe=lambda a: (
            f"{a.reference} — {a.citizen.full_name} ({a.get_kind_display()}, {a.institution_name})"
        ),
        done=lambda count: str(_("Başvuru iptal edildi.")),
        nothing_to_do=_("Yalnızca vatandaşın onayını bekleyen bir başvuru iptal edilebilir."),
    )


def signature_link(signature_id: int | None) -> str:
    """A link to a card signature's admin page ("-" for none: the SMS Onay Kodu)."""
    if signature_id is None:
        return "-"
    signature = CardSignature.objects.select_related("certificate").get(pk=signature_id)
    return format_html(
        '<a href="{}">{}</a>',
        reverse("admin:eonay_cardsignature_change", args=[signature_id]),
        _("Kartla imzalandı: sertifika %(serial)s, %(at)s")
        % {"serial": signature.serial, "at": admin_time(signature.signing_time)},
    )


@admin.register(Application)
class ApplicationAdmin(ObjectActionsAdmin):
    form = ApplicationEntryForm
    list_display = [
        "reference",
        "citizen",
        "kind",
        "institution_name",
        "status",
        "entered_at",
        "entered_by",
        "decided_at",
        "how_decided",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["=reference", "=citizen__tckn", "=citizen__passport_no", "institution_name"]
    autocomplete_fields = ["citizen"]
    list_select_related = ["citizen", "entered_by"]
    date_hierarchy = "entered_at"
    actions = None  # nothing in bulk; above all nothing that decides
    object_actions = [
        ObjectAction(
            slug="iptal-et",
            label=_("Başvuruyu iptal et"),
            permission="eonay.cancel_application",
            action=_cancel_action,
            applies=lambda application: application.is_waiting,
            not_applicable=_("Yalnızca vatandaşın onayını bekleyen bir başvuru iptal edilebilir."),
        ),
    ]

    @admin.display(description=_("karar şekli"))
    def how_decided(self, obj: Application) -> str:
        return _how_decided(obj)

    @admin.display(description=_("onaylayan sürekli E-Onay"))
    def decided_by_consent_link(self, obj: Application) -> str:
        if obj.decided_by_consent_id is None:
            return "-"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:eonay_consent_change", args=[obj.decided_by_consent_id]),
            obj.decided_by_consent,
        )

    @admin.display(description=_("karar imzası (kart)"))
    def decision_signature_link(self, obj: Application) -> str:
        return signature_link(obj.decision_signature_id)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return tuple(ENTRY_FIELDS)
        return (
            "reference",
            *ENTRY_FIELDS,
            "entered_by",
            "entered_at",
            "status",
            "decided_at",
            "how_decided",
            "decided_by_consent_link",
            "decision_signature_link",
            *(("cancelled_by", "cancel_reason") if obj.is_cancelled else ()),
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        return self.get_fields(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Entered is entered: the citizen decides on exactly what they were shown.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Application, form: Any, change: bool) -> None:
        if change:  # pragma: no cover - change permission is never granted
            raise PermissionError("applications are never changed in admin")
        enter_application(obj, actor=Actor.from_request(request))
        if obj.decided_by_consent_id is not None:
            self.message_user(
                request,
                _(
                    "%(ref)s: vatandaşın sürekli onayı bu başvuruyu kapsıyor; başvuru sürekli "
                    "onayla otomatik onaylandı."
                )
                % {"ref": obj.reference},
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request,
                _("%(ref)s: vatandaşın E-Onay'ı bekleniyor; vatandaşa SMS ile bildirildi.")
                % {"ref": obj.reference},
                messages.INFO,
            )


@add_citizen_inline
class CitizenApplicationInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The citizen's E-Onay applications on their page (one they did not ask for is a call)."""

    model = Application
    fk_name = "citizen"
    classes = ["nes-console"]  # admin-console.css: no str(row) line above each row
    fields = readonly_fields = (
        "reference_col",
        "kind",
        "institution_name",
        "status_col",
        "entered_col",
    )
    extra = 0
    can_delete = False
    verbose_name_plural = _("E-Onay başvuruları")

    @admin.display(description=_("başvuru numarası"))
    def reference_col(self, obj: Application) -> SafeString:
        url = reverse("admin:eonay_application_change", args=[quote(obj.pk)])
        return format_html('<a href="{}">{}</a>', url, obj.reference or "-")

    @admin.display(description=_("durum"))
    def status_col(self, obj: Application) -> str:
        decided = admin_time(obj.decided_at, seconds=False)
        how = _how_decided(obj)
        return f"{obj.get_status_display()} — {how}" + (f" ({decided})" if decided else "")

    @admin.display(description=_("giriş zamanı"))
    def entered_col(self, obj: Application) -> str:
        return admin_time(obj.entered_at, seconds=False)


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["citizen", "scope", "given_at", "withdrawn_at", "active"]
    list_filter = ["scope", ("withdrawn_at", admin.EmptyFieldListFilter)]
    search_fields = ["=citizen__tckn", "=citizen__passport_no"]
    list_select_related = ["citizen"]
    fields = (
        "citizen",
        "scope",
        "given_at",
        "given_signature_link",
        "withdrawn_at",
        "withdrawn_signature_link",
    )
    readonly_fields = fields
    actions = None

    @admin.display(description=_("etkin"), boolean=True)
    def active(self, obj: Consent) -> bool:
        return obj.is_active

    @admin.display(description=_("verme imzası (kart)"))
    def given_signature_link(self, obj: Consent) -> str:
        return signature_link(obj.given_signature_id)

    @admin.display(description=_("geri alma imzası (kart)"))
    def withdrawn_signature_link(self, obj: Consent) -> str:
        return signature_link(obj.withdrawn_signature_id)


@admin.register(CardSignature)
class CardSignatureAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The citizens' card signatures over E-Onay texts: view-only evidence."""

    list_display = ["verified_at", "citizen", "action", "subject", "serial", "signing_time"]
    list_filter = ["action"]
    search_fields = ["=citizen__tckn", "=citizen__passport_no", "=subject"]
    list_select_related = ["citizen", "certificate"]
    fields = (
        "citizen",
        "action",
        "subject",
        "serial",
        "signing_time",
        "verified_at",
        "text_block",
        "cms_download",
    )
    readonly_fields = fields
    actions = None

    @admin.display(description=_("sertifika seri no"))
    def serial(self, obj: CardSignature) -> str:
        return obj.serial

    @admin.display(description=_("imzalanan metin"))
    def text_block(self, obj: CardSignature) -> SafeString:
        return format_html('<pre class="nes-signed-text">{}</pre>', obj.text)

    @admin.display(description=_("imza (CMS)"))
    def cms_download(self, obj: CardSignature) -> SafeString:
        url = reverse("admin:eonay_cardsignature_cms", args=[obj.pk])
        return format_html(
            '<a href="{}" download>{}</a> ({} B)', url, _("CMS dosyasını indir"), len(obj.cms)
        )

    def get_urls(self) -> list[URLPattern]:
        download = path(
            "<int:pk>/cms/",
            self.admin_site.admin_view(self.download_cms),
            name="eonay_cardsignature_cms",
        )
        return [download, *super().get_urls()]

    def download_cms(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        signature = get_object_or_404(CardSignature, pk=pk)
        response = HttpResponse(bytes(signature.cms), content_type="application/pkcs7-signature")
        response["Content-Disposition"] = f'attachment; filename="eonay-imza-{signature.pk}.p7s"'
        return response
