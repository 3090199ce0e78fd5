"""The "Parolalarımı Kaydet" form: an optional password that encrypts the PDF."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

PDF_PASSWORD_MIN = 8
# AES-256 PDF passwords (revision 6) use at most 127 UTF-8 bytes.
PDF_PASSWORD_MAX_BYTES = 127


def _password_help_text() -> str:
    # Formatted when the form is shown, in the page's language: "%" on a lazy string at import
    # time would translate it once, into the default language (Turkish), for every page.
    return _(
        "Parola verirseniz PDF dosyası bu parolayla şifrelenir (AES-256) ve yalnızca parolayla "
        "açılır. Parolayı unutursanız dosya açılamaz; en az %(min)d karakter."
    ) % {"min": PDF_PASSWORD_MIN}


class PdfPasswordForm(forms.Form):
    password = forms.CharField(
        label=_("PDF parolası (isteğe bağlı)"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False),
        help_text=lazy(_password_help_text, str)(),
    )
    password2 = forms.CharField(
        label=_("PDF parolası (tekrar)"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False),
    )

    def clean_password(self) -> str:
        password: str = self.cleaned_data.get("password") or ""
        if password and len(password) < PDF_PASSWORD_MIN:
            raise forms.ValidationError(
                _("Parola en az %(min)d karakter olmalıdır.") % {"min": PDF_PASSWORD_MIN},
                code="too_short",
            )
        if len(password.encode()) > PDF_PASSWORD_MAX_BYTES:
            raise forms.ValidationError(_("Parola çok uzun."), code="too_long")
        return password

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password = cleaned.get("password") or ""
        again = cleaned.get("password2") or ""
        if "password" in cleaned and password != again:
            self.add_error("password2", _("Parolalar birbiriyle aynı değil."))
        return cleaned
