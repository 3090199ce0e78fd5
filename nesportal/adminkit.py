"""What every app's admin shares: read-only pages, and actions that ask the agent for a reason.

* :class:`ReadOnlyAdminMixin`: viewing only (no add, change or delete, for superusers too), for
  models that change only through their services: certificates, cards, the audit log, SMS.
* :class:`ReasonAction` + :func:`run_reason_action`: an admin action that changes something
  for a citizen on an agent's word ("Kilidi aç", "Güvenlik Sözcüğü yenileme bağlantısı
  gönder"). The first POST (from the change list's action menu) shows one confirmation page
  listing what will be done and what is skipped, with a required reason; the second POST
  (``apply``) runs the service once per object with the reason, which the service writes to
  the audit log. Nothing happens on a GET, and nothing without a reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

REASON_MAX_LENGTH = 500
REASON_HELP = _("Gizli bilgi (Güvenlik Sözcüğü, PIN, PUK, SMS kodu) yazmayınız.")


class ReadOnlyAdminMixin:
    """Viewing only: no add, change or delete, for superusers too."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReasonForm(forms.Form):
    """The agent's reason for an action; it goes to the audit log, so never a secret."""

    reason = forms.CharField(
        label=_("Gerekçe"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=REASON_MAX_LENGTH,
        help_text=REASON_HELP,
    )

    def __init__(
        self,
        *args: Any,
        label: StrOrPromise | None = None,
        help_text: StrOrPromise | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["reason"]
        if label is not None:
            field.label = label
        if help_text is not None:
            field.help_text = help_text


@dataclass(frozen=True)
class ReasonAction:
    """One admin action with a reason: its texts, and what it does to one object.

    ``apply(obj, reason)`` runs the service for one object and says whether it did anything
    (an object changed meanwhile, e.g. unlocked by another agent, counts as not done).
    ``describe(obj)`` is the object's line on the confirmation page (no secret).
    """

    name: str
    title: StrOrPromise
    intro: StrOrPromise
    submit_label: StrOrPromise
    reason_label: StrOrPromise
    reason_help: StrOrPromise
    apply: Callable[[Any, str], bool]
    describe: Callable[[Any], str]
    done: Callable[[int], str]
    nothing_to_do: StrOrPromise
    skipped_intro: StrOrPromise = ""
    describe_skipped: Callable[[Any], str] | None = None


def run_reason_action(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    action: ReasonAction,
    targets: QuerySet[Any],
    skipped: Iterable[Model] = (),
) -> HttpResponse | None:
    """The confirmation page, or (with ``apply`` and a valid reason) the action on ``targets``.

    Returns ``None`` once done (or when there is nothing to do): admin then shows the change
    list again with the message.
    """
    form_options = {"label": action.reason_label, "help_text": action.reason_help}
    if "apply" in request.POST:
        form = ReasonForm(request.POST, **form_options)
        if form.is_valid():
            reason = form.cleaned_data["reason"]
            count = sum(bool(action.apply(obj, reason)) for obj in targets)
            model_admin.message_user(request, action.done(count), messages.SUCCESS)
            return None
    else:
        if not targets.exists():
            model_admin.message_user(request, action.nothing_to_do, messages.WARNING)
            return None
        form = ReasonForm(**form_options)
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "title": action.title,
        "opts": opts,
        "action": action,
        "rows": [action.describe(obj) for obj in targets],
        "skipped": [(action.describe_skipped or action.describe)(obj) for obj in skipped],
        "form": form,
        "changelist_url": f"admin:{opts.app_label}_{opts.model_name}_changelist",
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
        "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
    }
    return TemplateResponse(request, "admin/reason_action.html", context)
