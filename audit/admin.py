from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from nesportal.adminkit import ReadOnlyAdminMixin

from .labels import ACTION_LABELS, action_html
from .models import AuditEvent

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class ActionFilter(admin.SimpleListFilter):
    """The actions by their Turkish labels (the codes stay in the URL and the search)."""

    title = _("olay")
    parameter_name = "action__exact"  # what list_filter = ["action"] used: old links still work

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
        return sorted(ACTION_LABELS.items(), key=lambda item: str(item[1]))

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[AuditEvent]
    ) -> QuerySet[AuditEvent]:
        if self.value():
            return queryset.filter(action=self.value())
        return queryset


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: the audit log can be searched and read, never changed or deleted."""

    list_display = ["at", "action_col", "citizen", "actor", "ip_address", "subject"]
    list_filter = [ActionFilter]
    search_fields = ["=citizen__tckn", "=citizen__passport_no", "action", "actor__username"]
    list_select_related = ["citizen", "actor"]
    date_hierarchy = "at"
    fields = readonly_fields = (
        "at",
        "action_col",
        "citizen",
        "actor",
        "subject",
        "ip_address",
        "data",
    )

    @admin.display(description=_("olay"), ordering="action")
    def action_col(self, obj: AuditEvent) -> SafeString:
        return action_html(obj.action)
