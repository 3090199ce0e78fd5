"""``{% form_field field %}``: a form field with its label, help text and errors
(``accounts/_field.html``).

An empty field of an unbound form renders the same for everyone — Django's widget templates were
a fifth of the Bilgi Güncelle page's cost (bench/pages.py) — so such a field is rendered once per
worker for each distinct definition (``nesportal.fragments``): the key holds the widget's class
and attributes, the field's name, id, label, help text, required and disabled flags. Anything
else is rendered afresh: a bound form (submitted values, errors), a field with a value (which may
be the citizen's own data), and every widget that is not a plain text input — the captcha's
widget makes a new challenge each time it renders.
"""

from collections.abc import Hashable

from django import forms, template
from django.forms import BoundField
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from nesportal.fragments import render_cached

register = template.Library()

TEMPLATE = "accounts/_field.html"

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
