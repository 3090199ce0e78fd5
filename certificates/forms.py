from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import Certificate


def certificate_label(cert: Certificate) -> str:
    """How a certificate is named in a choice: serial, kind and end of validity."""
    return gettext("%(serial)s — %(kind)s — geçerlilik sonu %(until)s (%(status)s)") % {
        "serial": cert.serial_number,
        "kind": cert.get_kind_display(),
        "until": date_format(timezone.localtime(cert.not_after), "DATE_FORMAT"),
        "status": cert.display_status,
    }


class RevokeForm(forms.Form):
    """Sertifikamı İptal Et, step 1: which certificate, and why.

    Only the citizen's revocable certificates are choices (the view passes them in), so a
    serial that is not offered is refused here whatever the browser sends.
    """

    certificate = forms.ChoiceField(
        label=_("İptal edilecek sertifika"),
        widget=forms.RadioSelect,
        error_messages={
            "required": _("İptal etmek istediğiniz sertifikayı seçiniz."),
            "invalid_choice": _(
                "Bu sertifika iptal edilemez: zaten iptal edilmiş ya da geçerlilik süresi dolmuş."
            ),
        },
    )
    reason = forms.ChoiceField(
        label=_("İptal nedeni"),
        choices=Certificate.RevocationReason.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Bir iptal nedeni seçiniz."),
            "invalid_choice": _("Listedeki iptal nedenlerinden birini seçiniz."),
        },
    )

    def __init__(self, *args: Any, certificates: Iterable[Certificate], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.certificates = {cert.serial_number: cert for cert in certificates}
        field = self.fields["certificate"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [
            (serial, certificate_label(cert)) for serial, cert in self.certificates.items()
        ]

    def clean_certificate(self) -> Certificate:
        return self.certificates[self.cleaned_data["certificate"]]
