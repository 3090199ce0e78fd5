from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from captcha.fields import CaptchaField, CaptchaTextInput
from captcha.models import CaptchaStore
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .identity import normalize_identifier, validate_identifier


def mutable_copy(data: Mapping[str, Any]) -> MutableMapping[str, Any]:
    """A copy of a bound form's ``data`` that may be changed (``request.POST`` may not).

    ``request.POST`` is a ``QueryDict`` (a ``dict`` subclass) whose ``copy()`` is mutable and
    keeps every value of a repeated field; a form bound in code usually gets a plain ``dict``.
    """
    if isinstance(data, dict):
        return data.copy()
    return dict(data)


class SingleUseCaptchaField(CaptchaField):
    """django-simple-captcha, consumed with a single DELETE.

    The library looks the row up and deletes it afterwards, so two parallel posts can both pass
    with one solved captcha (mbi/django-simple-captcha#220). Here the row is deleted first and
    the answer counts only if this request's DELETE removed exactly one row. Test mode is read
    from settings at request time (the library reads it once at import).
    """

    def clean(self, value: list[str]) -> list[str]:
        forms.MultiValueField.clean(self, value)  # required-ness, without the library's check
        hashkey = (value[0] or "").strip()
        response = (value[1] or "").strip().lower()
        value[1] = ""
        CaptchaStore.remove_expired()
        store = CaptchaStore.objects.filter(hashkey=hashkey, expiration__gt=timezone.now()).first()
        deleted = CaptchaStore.objects.filter(hashkey=hashkey).delete()[0] if hashkey else 0
        accepted = store is not None and (
            store.response == response or (settings.CAPTCHA_TEST_MODE and response == "passed")
        )
        if deleted != 1 or not accepted:
            raise ValidationError(
                _("Resimdeki yazıyı doğru giriniz. Yeni bir resim gösterildi."), code="captcha"
            )
        return value


class IdentifierCaptchaForm(forms.Form):
    """The T.C. Kimlik No / Pasaport No and the single-use captcha that open the login and the
    Güvenlik Sözcüğümü Unuttum forms; the identifier is cleaned to its normal form."""

    identifier = forms.CharField(
        label=_("T.C. Kimlik No / Pasaport No"),
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "inputmode": "text", "autofocus": True}
        ),
    )
    captcha = SingleUseCaptchaField(
        label=_("Resimdeki Yazı"),
        widget=CaptchaTextInput(attrs={"autocomplete": "off", "autocapitalize": "off"}),
    )

    def clean_identifier(self) -> str:
        value = normalize_identifier(self.cleaned_data["identifier"])
        validate_identifier(value)
        return value


class LoginForm(IdentifierCaptchaForm):
    security_word = forms.CharField(
        label=_("Güvenlik Sözcüğü"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class CodeForm(forms.Form):
    code = forms.RegexField(
        label=_("SMS Onay Kodu"),
        regex=r"^\d{6}$",
        max_length=6,
        error_messages={"invalid": _("SMS Onay Kodu 6 rakamdan oluşur.")},
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": r"\d{6}",
                "maxlength": 6,
                "autofocus": True,
            }
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.data.get("code"):
            data = mutable_copy(self.data)
            data["code"] = "".join(str(data["code"]).split())
            self.data = data


class ResetLinkForm(forms.Form):
    """The reason an agent gives for sending a reset link (admin action)."""

    reason = forms.CharField(
        label=_("Bağlantı gönderme gerekçesi"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=500,
        help_text=_("Ör. vatandaş aradı, kimliği doğrulandı. Gizli bilgi yazmayınız."),
    )
