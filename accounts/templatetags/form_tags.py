"""Form fields and their errors, announced the same way on every page.

``{% form_field field %}``: a form field with its label, help text and errors
(``accounts/_field.html``). Django 5.2 puts ``aria-invalid`` and
``aria-describedby="<auto_id>_helptext <auto_id>_error"`` on the widget
(``BoundField.aria_describedby``); the template gives the help text and the errors exactly
those ids, so a screen reader reads them with the field.

An empty field of an unbound form renders the same for everyone — Django's widget templates were
a fifth of the Bilgi Güncelle page's cost (bench/pages.py) — so such a field is rendered once per
worker for each distinct definition (``nesportal.fragments``): the key holds the widget's class
and attributes, the field's name, id, label, help text, required and disabled flags. Anything
else is rendered afresh: a bound form (submitted values, errors), a field with a value (which may
be the citizen's own data), and every widget that is not a plain text input — the captcha's
widget makes a new challenge each time it renders.

``{% error_summary form … %}`` (``_error_summary.html``) lists every error of the bound forms at
the top of the form, each linked to its field (the GOV.UK error summary); ``{% error_title form
… %}`` prefixes the page title with "Hata: " when one of them has errors. ``{% captcha_input
field %}`` renders the captcha's widget described by its help text and errors (a
``MultiWidget`` is a fieldset to Django, which then leaves ``aria-describedby`` out).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from django import forms, template
from django.forms import BoundField
from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from nesportal.fragments import render_cached

register = template.Library()

TEMPLATE = "accounts/_field.html"
SUMMARY_TEMPLATE = "_error_summary.html"

# Exact classes: a subclass may render differently (or carry state, like the captcha's).
CACHEABLE_WIDGETS = frozenset(
    {
        forms.TextInput,
        forms.EmailInput,
        forms.PasswordInput,
        forms.NumberInput,
        forms.DateInput,
        forms.Textarea,
    }
)


def field_key(field: BoundField) -> tuple[Hashable, ...] | None:
    """The fragment key of ``field``, or None if it must be rendered afresh."""
    widget = field.field.widget
    if field.form.is_bound or type(widget) not in CACHEABLE_WIDGETS:
        return None
    if field.value() not in (None, ""):
        return None
    return (
        type(widget).__qualname__,
        tuple(sorted((name, str(value)) for name, value in widget.attrs.items())),
        getattr(widget, "format", None),
        field.html_name,
        field.auto_id,
        str(field.label),
        str(field.help_text),
        field.field.required,
        field.field.disabled,
        field.form.use_required_attribute,
    )


@register.simple_tag
def form_field(field: BoundField) -> SafeString:
    key = field_key(field)
    if key is None:
        return render_to_string(TEMPLATE, {"field": field})
    return render_cached(TEMPLATE, key, {"field": field})


# --- the error summary ---------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryItem:
    message: str
    target: str  # the id of the element the entry links to; "" for a form's own errors


def error_target(field: BoundField) -> str:
    """The id a summary entry links to: the input that takes the answer.

    That is the label's target, except for radio buttons, whose label is a legend: the first
    radio button. The captcha's label already points at its text box (``id_captcha_1``).
    """
    if target := field.id_for_label:
        return target
    widget = field.field.widget
    if isinstance(widget, forms.RadioSelect | forms.CheckboxSelectMultiple) and field.auto_id:
        return widget.id_for_label(field.auto_id, "0")
    return field.auto_id or ""


def _forms_with_errors(candidates: tuple[Any, ...]) -> list[forms.BaseForm]:
    """The bound forms among ``candidates`` that have errors (a missing variable is "")."""
    return [f for f in candidates if isinstance(f, forms.BaseForm) and f.is_bound and f.errors]


def summary_items(form: forms.BaseForm) -> list[SummaryItem]:
    """The form's own errors first, then each field's, in the order the fields are shown."""
    items = [SummaryItem(str(e), "") for e in form.non_field_errors()]
    for field in form:
        if field.is_hidden:
            continue
        target = error_target(field)
        items.extend(SummaryItem(str(e), target) for e in field.errors)
    return items


@register.simple_tag
def error_summary(*candidates: Any, heading_level: int = 2, css_class: str = "") -> SafeString:
    """The error summary of the bound forms among ``candidates``, or nothing.

    The summary takes the focus after a failed post (``static/js/forms.js``), so no field of
    those forms keeps its ``autofocus``: without JavaScript the page is then read from the top,
    title ("Hata: …") and summary first. The form instances are the page's own, made for this
    request, so dropping the attribute from their widgets changes nothing else.
    """
    failed = _forms_with_errors(candidates)
    if not failed:
        return SafeString("")
    items = [item for form in failed for item in summary_items(form)]
    for form in failed:
        for field in form.fields.values():
            field.widget.attrs.pop("autofocus", None)
    return SafeString(
        render_to_string(
            SUMMARY_TEMPLATE,
            {"items": items, "heading_level": heading_level, "css_class": css_class},
        )
    )


@register.simple_tag
def error_title(*candidates: Any) -> str:
    """ "Hata: " (translated, with its space) when a bound form among ``candidates`` has errors."""
    return f"{gettext('Hata:')} " if _forms_with_errors(candidates) else ""


@register.simple_tag
def captcha_input(field: BoundField) -> SafeString:
    """The captcha's widget, described by the help text and the errors ``_identifier_captcha``
    prints (``<auto_id>_helptext``, ``<auto_id>_error``), like every other field."""
    described = [f"{field.auto_id}_helptext"]
    if field.errors:
        described.append(f"{field.auto_id}_error")
    return SafeString(field.as_widget(attrs={"aria-describedby": " ".join(described)}))
