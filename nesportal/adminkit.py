"""What every app's admin shares: read-only pages, and actions that ask the agent for a reason.

* :class:`ReadOnlyAdminMixin`: viewing only (no add, change or delete, for superusers too), for
  models that change only through their services: certificates, cards, the audit log, SMS.
* :class:`ReasonAction` + :func:`run_reason_action`: an admin action that changes something
  for a citizen on an agent's word ("Kilidi aç", "Güvenlik Sözcüğü yenileme bağlantısı
  gönder"). The first POST (from the change list's action menu) shows one confirmation page
  listing what will be done and what is skipped, with a required reason; the second POST
  (``apply``) runs the service once per object with the reason, which the service writes to
  the audit log. Nothing happens on a GET, and nothing without a reason.
* :class:`ObjectActionsAdmin` + :class:`ObjectAction`: the same action as a button on one
  object's change page (the citizen's "Kilidi aç", a certificate's "Askıya al"). The button
  POSTs to the object's own admin URL, which shows the same confirmation page for that one
  object (:func:`run_object_action`); with ``apply`` and a reason it runs once and redirects
  back to the change page with a message. Each button names its permission: without it the
  button is not shown and the URL answers 403; a GET answers 405.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from .exceptions import PortalError

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

REASON_MAX_LENGTH = 500
REASON_HELP = _("Gizli bilgi (Güvenlik Sözcüğü, PIN, PUK, SMS kodu) yazmayınız.")


def admin_time(value: datetime | None, *, seconds: bool = True) -> str:
    """A time as every admin page shows it: in ``TIME_ZONE`` (Europe/Istanbul), ``d.m.Y H:i:s``.

    Django's own columns and read-only fields convert to local time; values our code formats
    itself must too, or one page shows two clocks (the stored UTC next to Istanbul time).
    """
    if value is None:
        return ""
    return date_format(timezone.localtime(value), "d.m.Y H:i:s" if seconds else "d.m.Y H:i")


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
    return _confirmation_page(
        model_admin,
        request,
        action,
        form,
        rows=[action.describe(obj) for obj in targets],
        skipped=[(action.describe_skipped or action.describe)(obj) for obj in skipped],
        cancel_url=reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
        selected=request.POST.getlist(ACTION_CHECKBOX_NAME),
    )


def run_object_action(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    action: ReasonAction,
    obj: Model,
    *,
    applies: bool = True,
) -> HttpResponse:
    """``run_reason_action`` for one object, from a button on its change page (POST only).

    The first POST shows the confirmation page for ``obj``; the second (``apply`` and a valid
    reason) runs ``action.apply`` once and redirects to the change page with the message. An
    object the action does not apply to (``applies=False``: e.g. unlocked meanwhile) gets
    ``nothing_to_do``; a refusal of the service (``PortalError``, e.g. a certificate that
    changed state meanwhile) is shown as an error, never as a 500.
    """
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    opts = model_admin.model._meta
    change_url = reverse(
        f"admin:{opts.app_label}_{opts.model_name}_change",
        args=[quote(obj.pk)],
        current_app=model_admin.admin_site.name,
    )
    if not applies:
        model_admin.message_user(request, action.nothing_to_do, messages.WARNING)
        return HttpResponseRedirect(change_url)
    form_options = {"label": action.reason_label, "help_text": action.reason_help}
    if "apply" in request.POST:
        form = ReasonForm(request.POST, **form_options)
        if form.is_valid():
            try:
                done = bool(action.apply(obj, form.cleaned_data["reason"]))
            except PortalError as exc:
                model_admin.message_user(request, str(exc.message), messages.ERROR)
            else:
                if done:
                    model_admin.message_user(request, action.done(1), messages.SUCCESS)
                else:
                    model_admin.message_user(request, action.nothing_to_do, messages.WARNING)
            return HttpResponseRedirect(change_url)
    else:
        form = ReasonForm(**form_options)
    return _confirmation_page(
        model_admin,
        request,
        action,
        form,
        rows=[action.describe(obj)],
        cancel_url=change_url,
        obj=obj,
    )


def _confirmation_page(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    action: ReasonAction,
    form: ReasonForm,
    *,
    rows: list[str],
    cancel_url: str,
    skipped: Sequence[str] = (),
    selected: Sequence[str] = (),
    obj: Model | None = None,
) -> TemplateResponse:
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "title": action.title,
        "opts": opts,
        "action": action,
        "rows": rows,
        "skipped": skipped,
        "form": form,
        "changelist_url": f"admin:{opts.app_label}_{opts.model_name}_changelist",
        "cancel_url": cancel_url,
        "object": obj,
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
        "selected": selected,
    }
    return TemplateResponse(request, "admin/reason_action.html", context)


@dataclass(frozen=True)
class ObjectAction:
    """A button on one object's change page that runs a :class:`ReasonAction` for it.

    ``slug`` is the URL's last segment (``<object_id>/<slug>/``, URL name
    ``<app>_<model>_<slug>``); ``permission`` the ``app.codename`` a user needs to see the
    button and to POST to it; ``action(request)`` builds the action (it runs the service as the
    requesting staff user); ``applies(obj)`` says whether it makes sense for the object now (a
    button that does not apply is shown disabled with ``not_applicable`` as its tooltip).
    """

    slug: str
    label: StrOrPromise
    permission: str
    action: Callable[[HttpRequest], ReasonAction]
    applies: Callable[[Any], bool] = lambda obj: True
    not_applicable: StrOrPromise = ""


@dataclass(frozen=True)
class ObjectButton:
    """What the change page renders for one :class:`ObjectAction`."""

    label: StrOrPromise
    url: str
    enabled: bool
    title: StrOrPromise


class ObjectActionsAdmin(admin.ModelAdmin):
    """A ModelAdmin whose change page shows ``object_actions`` as buttons (POST forms in the
    object-tools block, outside the change form: HTML forms cannot nest)."""

    object_actions: Sequence[ObjectAction] = ()
    change_form_template = "admin/object_actions_change_form.html"

    def get_urls(self) -> list[URLPattern]:
        opts = self.model._meta
        return [
            path(
                f"<path:object_id>/{spec.slug}/",
                self.admin_site.admin_view(self._object_action_view(spec)),
                name=f"{opts.app_label}_{opts.model_name}_{spec.slug}",
            )
            for spec in self.object_actions
        ] + super().get_urls()

    def _object_action_view(self, spec: ObjectAction) -> Callable[..., HttpResponseBase]:
        def view(request: HttpRequest, object_id: str) -> HttpResponseBase:
            # The permission first: without it the answer is 403 whatever the object or method.
            if not request.user.has_perm(spec.permission):
                raise PermissionDenied
            obj = self.get_object(request, unquote(object_id))
            if obj is None:
                raise Http404
            return run_object_action(
                self, request, spec.action(request), obj, applies=spec.applies(obj)
            )

        return view

    def object_buttons(self, request: HttpRequest, obj: Model) -> list[ObjectButton]:
        """The buttons this user may use on ``obj``'s page (none without the permission)."""
        opts = self.model._meta
        buttons = []
        for spec in self.object_actions:
            if not request.user.has_perm(spec.permission):
                continue
            applies = spec.applies(obj)
            buttons.append(
                ObjectButton(
                    label=spec.label,
                    url=reverse(
                        f"admin:{opts.app_label}_{opts.model_name}_{spec.slug}",
                        args=[quote(obj.pk)],
                        current_app=self.admin_site.name,
                    ),
                    enabled=applies,
                    title="" if applies else spec.not_applicable,
                )
            )
        return buttons

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if obj is not None:
            extra.update(self.change_page_context(request, obj))
        return super().change_view(request, object_id, form_url, extra)

    def change_page_context(self, request: HttpRequest, obj: Any) -> dict[str, Any]:
        """What the change page's template gets besides Django's own context."""
        return {"object_buttons": self.object_buttons(request, obj)}
