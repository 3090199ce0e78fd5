"""Staff accounts in admin: who has a second factor, who is locked; unlock and device reset.

django-otp's own device admins are removed: they show a TOTP key and its QR code to
superusers. Here nobody reads a secret after enrolment; a superuser can only *reset* a
colleague's devices (the colleague enrols again at the next login) or unlock the account,
both with a reason, both audited.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from nesportal.adminkit import ReadOnlyAdminMixin, ReasonAction, run_reason_action

from . import guard, services
from .models import SealedTOTPDevice, StaffGuard

for model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(model):
        admin.site.unregister(model)

User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    list_display = [
        "username",
        "first_name",
        "last_name",
        "is_staff",
        "is_superuser",
        "second_factor",
        "lock_state",
    ]
    actions = ["unlock_staff", "reset_devices"]
    readonly_fields = ["second_factor", "lock_state", "last_login", "date_joined"]
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        (_("İki adımlı doğrulama ve kilit"), {"fields": ["second_factor", "lock_state"]}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # One query for the list, whatever its length: the device facts come as annotations.
        authenticator = SealedTOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
        codes = (
            StaticToken.objects.filter(device__user=OuterRef("pk"))
            .order_by()
            .values("device__user")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .select_related("staff_guard")
            .annotate(
                has_authenticator=Exists(authenticator),
                backup_codes_left=Coalesce(Subquery(codes), 0),
            )
        )

    @admin.display(description=_("iki adımlı doğrulama"))
    def second_factor(self, obj: Any) -> str:
        if not getattr(obj, "has_authenticator", False):
            return str(_("Yok (ilk girişte eklenecek)"))
        left = getattr(obj, "backup_codes_left", 0)
        return str(_("Uygulama; %(count)d yedek kod") % {"count": left})

    @admin.display(description=_("kilit"))
    def lock_state(self, obj: Any) -> str:
        guard_row = getattr(obj, "staff_guard", None)
        if guard_row is None or guard_row.locked_at is None:
            return str(_("Açık"))
        return str(
            _("Kilitli (%(reason)s, %(at)s)")
            % {
                "reason": guard_row.get_lock_reason_display(),
                "at": f"{timezone.localtime(guard_row.locked_at):%d.%m.%Y %H:%M}",
            }
        )

    def has_unlock_staff_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("staff.unlock_staff")

    @admin.action(description=_("Personel hesabının kilidini aç"), permissions=["unlock_staff"])
    def unlock_staff(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        locked = queryset.filter(staff_guard__locked_at__isnull=False)
        action = ReasonAction(
            name="unlock_staff",
            title=_("Personel hesabının kilidini aç"),
            intro=_(
                "Aşağıdaki personel hesaplarının kilidi açılacak ve hatalı deneme sayaçları "
                "sıfırlanacak. Kimin, neden açtığı denetim kaydına yazılır."
            ),
            submit_label=_("Kilidi aç"),
            reason_label=_("Kilit açma gerekçesi"),
            reason_help=_("Ör. kişi arandı ve kimliği doğrulandı. Gizli bilgi yazmayınız."),
            apply=lambda user, reason: guard.unlock(user, by=request.user, reason=reason),
            describe=lambda user: f"{user.get_username()} ({user.get_full_name() or '-'})",
            done=lambda count: (
                ngettext(
                    "%(count)d personel hesabının kilidi açıldı.",
                    "%(count)d personel hesabının kilidi açıldı.",
                    count,
                )
                % {"count": count}
            ),
            nothing_to_do=_("Seçilenler arasında kilitli personel hesabı yok."),
        )
        return run_reason_action(self, request, action, locked)

    def has_reset_devices_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    @admin.action(
        description=_("İki adımlı doğrulamayı sıfırla (yeniden kurulum)"),
        permissions=["reset_devices"],
    )
    def reset_devices(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        action = ReasonAction(
            name="reset_devices",
            title=_("İki adımlı doğrulamayı sıfırla"),
            intro=_(
                "Aşağıdaki personelin kimlik doğrulayıcı uygulaması ve yedek kodları silinecek; "
                "açık oturumları hemen sona erer ve bir sonraki girişte yeni bir uygulama "
                "eklemeleri istenir. Kimin, neden sıfırladığı denetim kaydına yazılır."
            ),
            submit_label=_("Sıfırla"),
            reason_label=_("Sıfırlama gerekçesi"),
            reason_help=_("Ör. telefonunu kaybetti, kimliği doğrulandı. Gizli bilgi yazmayınız."),
            apply=lambda user, reason: bool(
                services.reset_devices(user, by=request.user, reason=reason)
            ),
            describe=lambda user: f"{user.get_username()} ({user.get_full_name() or '-'})",
            done=lambda count: (
                ngettext(
                    "%(count)d personelin iki adımlı doğrulaması sıfırlandı.",
                    "%(count)d personelin iki adımlı doğrulaması sıfırlandı.",
                    count,
                )
                % {"count": count}
            ),
            nothing_to_do=_("Seçilenlerin iki adımlı doğrulaması yok."),
        )
        with_devices = queryset.filter(totpdevice__isnull=False).distinct()
        return run_reason_action(self, request, action, with_devices)


@admin.register(StaffGuard)
class StaffGuardAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: the counters change only through logins, unlock and device reset."""

    list_display = ["user", "failure_count", "locked_at", "lock_reason"]
    list_filter = ["lock_reason"]
    readonly_fields = ["user", "failure_count", "locked_at", "lock_reason"]
