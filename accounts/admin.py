"""Call-centre admin: find a citizen, see why they are locked, unlock them.

Agents (the "Çağrı Merkezi" group) can view citizens, their recent login attempts and SMS
outcomes, and run "Kilidi aç". Nobody sees or edits the security-word hash in admin; a
superuser can set a new security word, which is hashed at once.

The citizen's page is the agent's console: the lock box (state, reason, time, counters) and the
"Kilidi aç" / "Sıfırlama bağlantısı gönder" buttons come first. The feature apps add their
read-only tables to it (certificates, AKİS cards, E-Onay applications) with
``add_citizen_inline``: accounts sits below them and never imports them.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.contrib.admin.options import InlineModelAdmin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from audit.labels import action_html
from audit.models import AuditEvent
from nesportal.adminkit import (
    ObjectAction,
    ObjectActionsAdmin,
    ReadOnlyAdminMixin,
    ReasonAction,
    admin_time,
    run_reason_action,
)

from . import lockout
from .identity import mask_phone
from .models import Citizen, ContactChange, SmsMessage
from .services import create_reset_link

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

RECENT = 20
LOGIN_ACTIONS = (
    "nes.login.word_passed",
    "nes.login.word_failed",
    "nes.login.word_rehashed",
    "nes.login.locked_attempt",
    "nes.login.code_passed",
    "nes.login.code_failed",
    "nes.login.succeeded",
    "nes.account.locked",
    "nes.account.unlocked",
    "nes.logout",
    "nes.recovery.fact_passed",
    "nes.recovery.fact_failed",
    "nes.recovery.locked_attempt",
    "nes.recovery.code_passed",
    "nes.recovery.word_changed",
    "nes.recovery.link_sent",
)


# The read-only tables the feature apps show on the citizen's page (certificates, cards,
# applications), in the order they were added.
CITIZEN_INLINES: list[type[InlineModelAdmin[Any, Any]]] = []


def add_citizen_inline(
    inline: type[InlineModelAdmin[Any, Any]],
) -> type[InlineModelAdmin[Any, Any]]:
    """Show ``inline`` (read-only, for everyone) on the citizen's change page; a decorator.

    Each inline checks its own model's view permission, so the page shows an agent only the
    tables their group may see.
    """
    if inline not in CITIZEN_INLINES:
        CITIZEN_INLINES.append(inline)
    return inline


def _table(headers: list[StrOrPromise], rows: Any, cells: int) -> SafeString:
    """One of the citizen page's lists: the first column is a time (narrow), the rest wrap."""
    head = format_html('<th class="nes-col-time">{}</th>', headers[0]) + format_html_join(
        "", "<th>{}</th>", ((h,) for h in headers[1:])
    )
    body = format_html_join("", "<tr>" + "<td>{}</td>" * cells + "</tr>", rows)
    return format_html(
        '<table class="nes-table"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', head, body
    )


class CitizenAdminForm(forms.ModelForm):
    new_security_word = forms.CharField(
        label=_("Yeni Güvenlik Sözcüğü"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Boş bırakılırsa değişmez. Yalnızca Argon2 özeti saklanır."),
    )

    class Meta:
        model = Citizen
        fields = [
            "tckn",
            "passport_no",
            "first_name",
            "last_name",
            "birth_date",
            "mobile_phone",
            "email",
            "address",
        ]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if not self.instance.pk and not data.get("new_security_word"):
            self.add_error("new_security_word", _("Yeni vatandaş için Güvenlik Sözcüğü gerekir."))
        return data

    def save(self, commit: bool = True) -> Citizen:
        citizen = super().save(commit=False)
        if self.cleaned_data.get("new_security_word"):
            citizen.set_security_word(self.cleaned_data["new_security_word"])
        if commit:
            citizen.save()
        return citizen


class LockedFilter(admin.SimpleListFilter):
    title = _("kilit durumu")
    parameter_name = "kilit"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
        return [("evet", _("Kilitli")), ("hayir", _("Açık"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Citizen]) -> QuerySet[Citizen]:
        if self.value() == "evet":
            return queryset.filter(locked_at__isnull=False)
        if self.value() == "hayir":
            return queryset.filter(locked_at__isnull=True)
        return queryset


@admin.register(Citizen)
class CitizenAdmin(ObjectActionsAdmin):
    form = CitizenAdminForm
    change_form_template = "admin/accounts/citizen/change_form.html"
    list_display = [
        "full_name_col",
        "identifier_col",
        "phone_col",
        "locked_col",
        "failure_count",
        "code_failure_count",
        "locked_at",
    ]
    list_filter = [LockedFilter, "lock_reason"]
    search_fields = ["=tckn", "=passport_no", "first_name", "last_name"]
    actions = ["unlock", "send_reset_link"]
    readonly_fields = [
        "failure_count",
        "code_failure_count",
        "locked_at",
        "lock_reason",
        "created_at",
        "updated_at",
        "recent_login_attempts",
        "recent_sms",
        "recent_contact_changes",
    ]
    fieldsets = [
        (_("Kimlik"), {"fields": ["tckn", "passport_no", "first_name", "last_name", "birth_date"]}),
        (_("İletişim"), {"fields": ["mobile_phone", "email", "address"]}),
        (
            _("Son bilgi değişiklikleri"),
            {"fields": ["recent_contact_changes"], "classes": ["nes-list"]},
        ),
        (_("Güvenlik Sözcüğü"), {"fields": ["new_security_word"]}),
        # The lock state is not a fieldset: the lock box above the fieldsets shows it first.
        (_("Son giriş denemeleri"), {"fields": ["recent_login_attempts"], "classes": ["nes-list"]}),
        (_("Son SMS'ler"), {"fields": ["recent_sms"], "classes": ["nes-list"]}),
        (_("Kayıt"), {"fields": ["created_at", "updated_at"]}),
    ]

    object_actions = [
        ObjectAction(
            slug="kilidi-ac",
            label=_("Kilidi aç"),
            permission="accounts.unlock_citizen",
            action=lambda request: _unlock_action(request),
            applies=lambda citizen: citizen.is_locked,
            not_applicable=_("Hesap kilitli değil."),
        ),
        ObjectAction(
            slug="sifirlama-baglantisi",
            label=_("Sıfırlama bağlantısı gönder"),
            permission="accounts.send_reset_link",
            action=lambda request: _reset_link_action(request),
            # The link would not work for a locked account: unlock first.
            applies=lambda citizen: not citizen.is_locked,
            not_applicable=_("Hesap kilitli: önce kilidi açınız."),
        ),
    ]

    def get_inlines(self, request: HttpRequest, obj: Citizen | None) -> list[Any]:
        return list(CITIZEN_INLINES) if obj is not None else []

    def change_page_context(self, request: HttpRequest, obj: Citizen) -> dict[str, Any]:
        return {**super().change_page_context(request, obj), "lock_summary": _lock_summary(obj)}

    def get_fieldsets(self, request: HttpRequest, obj: Citizen | None = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if not self.has_change_permission(request, obj):
            fieldsets = [fs for fs in fieldsets if "new_security_word" not in fs[1]["fields"]]
        return fieldsets

    @admin.display(description=_("ad soyad"), ordering="last_name")
    def full_name_col(self, obj: Citizen) -> str:
        return obj.full_name

    @admin.display(description=_("T.C. Kimlik No / Pasaport No"))
    def identifier_col(self, obj: Citizen) -> str:
        return obj.identifier

    @admin.display(description=_("cep telefonu"))
    def phone_col(self, obj: Citizen) -> str:
        return mask_phone(obj.mobile_phone)

    @admin.display(description=_("kilit durumu"), ordering="locked_at")
    def locked_col(self, obj: Citizen) -> SafeString:
        # A word, not a tick: admin's green tick for "locked" read as "all is well".
        return _state_html(obj.is_locked)

    @admin.display(description=_("son giriş denemeleri"))
    def recent_login_attempts(self, obj: Citizen) -> StrOrPromise:
        events = AuditEvent.objects.filter(citizen=obj, action__in=LOGIN_ACTIONS).select_related(
            "actor"
        )[:RECENT]
        if not events:
            return _("Kayıt yok.")
        return _table(
            [_("zaman"), _("olay"), _("IP adresi"), _("personel")],
            (
                (
                    admin_time(e.at),
                    action_html(e.action),
                    e.ip_address or "",
                    e.actor.get_username() if e.actor else "",
                )
                for e in events
            ),
            cells=4,
        )

    @admin.display(description=_("son SMS'ler"))
    def recent_sms(self, obj: Citizen) -> StrOrPromise:
        sms = SmsMessage.objects.filter(citizen=obj)[:RECENT]
        if not sms:
            return _("Kayıt yok.")
        return _table(
            [_("zaman"), _("tür"), _("durum"), _("sağlayıcı mesaj no"), _("hata nedeni")],
            (
                (
                    admin_time(m.created_at),
                    m.get_kind_display(),
                    m.get_status_display(),
                    m.provider_message_id,
                    m.failure_reason,
                )
                for m in sms
            ),
            cells=5,
        )

    @admin.display(description=_("son bilgi değişiklikleri"))
    def recent_contact_changes(self, obj: Citizen) -> StrOrPromise:
        """Bilgi Güncelle history with before/after: phone and e-mail requests (confirmed or
        not) from ContactChange, address changes (saved at once) from the audit log."""
        rows: list[tuple[datetime, StrOrPromise, str, str, StrOrPromise]] = [
            (c.created_at, c.get_field_display(), c.old_value, c.new_value, _contact_state(c))
            for c in ContactChange.objects.filter(citizen=obj)[:RECENT]
        ]
        rows += [
            (e.at, _("adres"), e.data.get("before", ""), e.data.get("after", ""), _("Kaydedildi"))
            for e in AuditEvent.objects.filter(
                citizen=obj, action="nes.profile.address_changed"
            ).order_by("-at")[:RECENT]
        ]
        if not rows:
            return _("Kayıt yok.")
        rows.sort(key=lambda r: r[0], reverse=True)
        return _table(
            [_("zaman"), _("alan"), _("eski değer"), _("yeni değer"), _("durum")],
            ((admin_time(at), *rest) for at, *rest in rows[:RECENT]),
            cells=5,
        )

    def has_unlock_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.unlock_citizen")

    @admin.action(description=_("Kilidi aç"), permissions=["unlock"])
    def unlock(self, request: HttpRequest, queryset: QuerySet[Citizen]) -> HttpResponse | None:
        return run_reason_action(
            self, request, _unlock_action(request), queryset.filter(locked_at__isnull=False)
        )

    def has_send_reset_link_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.send_reset_link")

    @admin.action(
        description=_("Güvenlik Sözcüğü yenileme bağlantısı gönder"),
        permissions=["send_reset_link"],
    )
    def send_reset_link(
        self, request: HttpRequest, queryset: QuerySet[Citizen]
    ) -> HttpResponse | None:
        # A locked account is unlocked first (its own action and audit entry); the link would
        # not work for it.
        return run_reason_action(
            self,
            request,
            _reset_link_action(request),
            queryset.filter(locked_at__isnull=True),
            skipped=queryset.filter(locked_at__isnull=False),
        )


def _unlock_action(request: HttpRequest) -> ReasonAction:
    return ReasonAction(
        name="unlock",
        title=_("Kilidi aç"),
        intro=_(
            "Aşağıdaki vatandaşların kilidi açılacak ve hatalı giriş sayaçları sıfırlanacak. "
            "Kimin, neden açtığı denetim kaydına yazılır."
        ),
        submit_label=_("Kilidi aç"),
        reason_label=_("Kilit açma gerekçesi"),
        reason_help=_("Ör. kimlik doğrulandı, vatandaş aradı. Gizli bilgi yazmayınız."),
        apply=lambda citizen, reason: lockout.unlock(citizen, agent=request.user, reason=reason),
        describe=lambda c: (
            f"{c.full_name} — {c.identifier} "
            f"({c.get_lock_reason_display()}, {admin_time(c.locked_at, seconds=False)})"
        ),
        done=lambda count: (
            ngettext(
                "%(count)d vatandaşın kilidi açıldı.", "%(count)d vatandaşın kilidi açıldı.", count
            )
            % {"count": count}
        ),
        nothing_to_do=_("Seçilenler arasında kilitli vatandaş yok."),
    )


def _send_link(request: HttpRequest, citizen: Citizen, reason: str) -> bool:
    create_reset_link(citizen, agent=request.user, reason=reason)
    return True


def _reset_link_action(request: HttpRequest) -> ReasonAction:
    return ReasonAction(
        name="send_reset_link",
        title=_("Güvenlik Sözcüğü yenileme bağlantısı gönder"),
        intro=_(
            "Aşağıdaki vatandaşların kayıtlı cep telefonuna tek kullanımlık, 30 dakika geçerli "
            "bir Güvenlik Sözcüğü yenileme bağlantısı SMS ile gönderilecek. Önceki açık "
            "bağlantılar geçersiz olur. Kimin, neden gönderdiği denetim kaydına yazılır."
        ),
        submit_label=_("Bağlantı gönder"),
        reason_label=_("Bağlantı gönderme gerekçesi"),
        reason_help=_("Ör. vatandaş aradı, kimliği doğrulandı. Gizli bilgi yazmayınız."),
        apply=lambda citizen, reason: _send_link(request, citizen, reason),
        describe=lambda c: f"{c.full_name} — {c.identifier} ({c.masked_phone})",
        describe_skipped=lambda c: f"{c.full_name} — {c.identifier}",
        skipped_intro=_(
            "Hesabı kilitli olduğu için bağlantı gönderilmeyecekler (önce kilidi açınız):"
        ),
        done=lambda count: (
            ngettext(
                "%(count)d vatandaşa Güvenlik Sözcüğü yenileme bağlantısı gönderildi.",
                "%(count)d vatandaşa Güvenlik Sözcüğü yenileme bağlantısı gönderildi.",
                count,
            )
            % {"count": count}
        ),
        nothing_to_do=_("Seçilen vatandaşların hesabı kilitli: önce kilidi açınız."),
    )


def _state_html(locked: bool) -> SafeString:
    if locked:
        return format_html('<span class="nes-state nes-state-locked">{}</span>', _("Kilitli"))
    return format_html('<span class="nes-state nes-state-open">{}</span>', _("Açık"))


def _protection(citizen: Citizen) -> dict[str, Any] | None:
    """The citizen's last "Bu işlemi ben yapmadım" (``protection``), for the agent: when, and
    which certificates it suspended (the holder lifts them after logging in)."""
    event = (
        AuditEvent.objects.filter(citizen=citizen, action="nes.notme.protected")
        .only("at", "data")
        .first()
    )
    if event is None:
        return None
    return {"at": admin_time(event.at), "suspended": event.data.get("suspended", [])}


def _lock_summary(citizen: Citizen) -> dict[str, Any]:
    """The lock box at the top of the citizen's page."""
    return {
        "protected": _protection(citizen),
        "locked": citizen.is_locked,
        "state": _("Kilitli") if citizen.is_locked else _("Açık"),
        "reason": citizen.get_lock_reason_display() if citizen.is_locked else "",
        "locked_at": admin_time(citizen.locked_at),
        "failure_count": citizen.failure_count,
        "code_failure_count": citizen.code_failure_count,
    }


def _contact_state(change: ContactChange) -> StrOrPromise:
    if change.confirmed_at:
        return _("Onaylandı %(at)s") % {"at": admin_time(change.confirmed_at, seconds=False)}
    if change.cancelled_at:
        return _("Vazgeçildi / yenisi istendi")
    if change.expires_at <= timezone.now():
        return _("Süresi doldu")
    return _("Onay bekliyor")


@admin.register(ContactChange)
class ContactChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: changes happen only through Bilgi Güncelle (token hashes are not shown)."""

    list_display = [
        "created_at",
        "citizen",
        "field",
        "old_value",
        "new_value",
        "confirmed_at",
        "cancelled_at",
        "expires_at",
    ]
    list_filter = ["field"]
    search_fields = ["=citizen__tckn", "=citizen__passport_no"]
    list_select_related = ["citizen"]
    fields = readonly_fields = (
        "citizen",
        "field",
        "old_value",
        "new_value",
        "created_at",
        "expires_at",
        "confirmed_at",
        "cancelled_at",
    )
    date_hierarchy = "created_at"


@admin.register(SmsMessage)
class SmsMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "citizen",
        "kind",
        "status",
        "attempts",
        "provider_message_id",
        "failure_reason",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["=citizen__tckn", "=citizen__passport_no", "provider_message_id"]
    list_select_related = ["citizen"]
    readonly_fields = [f.name for f in SmsMessage._meta.fields]
    date_hierarchy = "created_at"
