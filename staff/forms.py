"""The staff login's two forms: the password, then the second-factor code."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class PasswordForm(forms.Form):
    username = forms.CharField(
        label=_("Kullanıcı adı"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Parola"),
        max_length=256,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class TokenForm(forms.Form):
    token = forms.CharField(
        label=_("Doğrulama kodu"),
        max_length=32,
        help_text=_(
            "Kimlik doğrulayıcı uygulamanızdaki 6 haneli kod ya da yedek kodlarınızdan biri."
        ),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false"}
        ),
    )


class EnrolForm(forms.Form):
    token = forms.CharField(
        label=_("Uygulamadaki 6 haneli kod"),
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )
