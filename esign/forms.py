"""The E-İmzalı Giriş form, for people who paste the signing tool's output by hand."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

# Bounds on what a POST may make us parse: base64 of an RSA-8192 signature is ~1.4k characters,
# and a certificate of ours is well under 4k in PEM.
MAX_SIGNATURE_CHARS = 2048
MAX_CERTIFICATE_CHARS = 16384


class EsignLoginForm(forms.Form):
    challenge_id = forms.CharField(widget=forms.HiddenInput, max_length=64)
    signature = forms.CharField(
        label=_("İmza (base64)"),
        max_length=MAX_SIGNATURE_CHARS,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "autocomplete": "off"}),
        help_text=_("İmzalama aracınızın ürettiği imza."),
    )
    certificate = forms.CharField(
        label=_("Sertifika (PEM ya da base64 DER)"),
        max_length=MAX_CERTIFICATE_CHARS,
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false", "autocomplete": "off"}),
        help_text=_("Akıllı kartınızdaki nitelikli elektronik sertifikanız."),
    )
