from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from typing import Any

from captcha.fields import CaptchaField, CaptchaTextInput
from captcha.models import CaptchaStore
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from .identity import normalize_identifier, validate_identifier
from .models import Citizen, normalize_phone, validate_turkish_mobile
from .profile import ADDRESS_MAX_LENGTH
from .recovery import validate_new_word
from .validators import as_security_word_errors


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
        # Expired rows are purged by beat (accounts.housekeeping), not here: the library's
        # remove_expired() on every POST is an unindexed DELETE over the whole table.
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


# Güvenlik Sözcüğümü Unuttum ------------------------------------------------------------------


_SPACES = re.compile(r"\s+")
_EIGHT_DIGITS = re.compile(r"^(\d{2})(\d{2})(\d{4})$")


class BirthDateField(forms.DateField):
    """A date typed on a phone's number pad: "14031980" as well as "14.03.1980", "14/03/1980",
    "14-03-1980" (and spaces anywhere, "14 03 1980"). Eight digits are always day, month, year;
    ``static/js/forms.js`` shows the dots as they are typed, but the field needs no script."""

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            value = _SPACES.sub("", value)
            if match := _EIGHT_DIGITS.match(value):
                value = ".".join(match.groups())
        return super().to_python(value)


class RecoveryStartForm(IdentifierCaptchaForm):
    birth_date = BirthDateField(
        label=gettext_lazy("Doğum Tarihi"),
        input_formats=["%d.%m.%Y", "%d/%m/%Y", "%d-%m-%Y", "%Y-%m-%d"],
        help_text=gettext_lazy("Başvuru formunuzdaki doğum tarihiniz, ör. 23.04.1985."),
        error_messages={"invalid": gettext_lazy("Doğum tarihini GG.AA.YYYY biçiminde giriniz.")},
        widget=forms.TextInput(
            attrs={
                "autocomplete": "bday",
                "inputmode": "numeric",
                "placeholder": gettext_lazy("GG.AA.YYYY"),
                "data-date-input": "",
            }
        ),
    )


class NewWordForm(forms.Form):
    new_word1 = forms.CharField(
        label=gettext_lazy("Yeni Güvenlik Sözcüğü"),
        max_length=128,
        strip=False,
        help_text=gettext_lazy(
            "En az 8 karakter. T.C. Kimlik No'nuz, doğum tarihiniz, adınız ya da çok kullanılan "
            "bir sözcük olamaz."
        ),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "autofocus": True}),
    )
    new_word2 = forms.CharField(
        label=gettext_lazy("Yeni Güvenlik Sözcüğü (tekrar)"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, citizen: Citizen, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.citizen = citizen

    @sensitive_variables("word1", "word2")
    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        word1, word2 = data.get("new_word1"), data.get("new_word2")
        if word1 and word2 and not constant_time_compare(word1, word2):
            self.add_error("new_word2", _("Girdiğiniz iki Güvenlik Sözcüğü aynı değil."))
        elif word1:
            try:
                validate_new_word(word1, self.citizen)
            except ValidationError as exc:
                self.add_error("new_word1", as_security_word_errors(exc))
        return data


# Bilgi Güncelle ------------------------------------------------------------------------------


class PhoneForm(forms.Form):
    mobile_phone = forms.CharField(
        label=gettext_lazy("Yeni cep telefonu numarası"),
        max_length=32,
        help_text=gettext_lazy("Türkiye'de kayıtlı bir cep telefonu, ör. 0532 123 45 67."),
        error_messages={
            "required": gettext_lazy("Yeni cep telefonu numaranızı giriniz."),
            "max_length": gettext_lazy("Geçerli bir cep telefonu numarası giriniz."),
        },
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )

    def __init__(self, *args: Any, citizen: Citizen, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.citizen = citizen

    def clean_mobile_phone(self) -> str:
        value = self.cleaned_data["mobile_phone"]
        validate_turkish_mobile(value)
        number = normalize_phone(value)
        if number == self.citizen.mobile_phone:
            raise forms.ValidationError(
                _("Bu numara zaten kayıtlı cep telefonunuz. Farklı bir numara giriniz."),
                code="same",
            )
        return number


class EmailForm(forms.Form):
    email = forms.EmailField(
        label=gettext_lazy("Yeni e-posta adresi"),
        max_length=254,
        error_messages={
            "required": gettext_lazy("Yeni e-posta adresinizi giriniz."),
            "invalid": gettext_lazy("Geçerli bir e-posta adresi giriniz (ör. ad@ornek.com.tr)."),
            "max_length": gettext_lazy("E-posta adresi en fazla 254 karakter olabilir."),
        },
        widget=forms.TextInput(attrs={"autocomplete": "email", "inputmode": "email"}),
    )

    def __init__(self, *args: Any, citizen: Citizen, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.citizen = citizen

    def clean_email(self) -> str:
        local, _at, domain = self.cleaned_data["email"].rpartition("@")
        value = f"{local}@{domain.lower()}"
        if value.lower() == self.citizen.email.lower():
            raise forms.ValidationError(
                _("Bu adres zaten kayıtlı e-posta adresiniz. Farklı bir adres giriniz."),
                code="same",
            )
        return value


class AddressForm(forms.Form):
    address = forms.CharField(
        label=gettext_lazy("Yeni posta adresi"),
        max_length=ADDRESS_MAX_LENGTH,
        help_text=gettext_lazy("Mahalle, cadde/sokak, bina ve daire no, posta kodu, ilçe / il."),
        error_messages={
            "required": gettext_lazy("Yeni adresinizi giriniz."),
            "max_length": gettext_lazy("Adres en fazla %(limit_value)d karakter olabilir."),
        },
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "street-address"}),
    )

    def __init__(self, *args: Any, citizen: Citizen, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.citizen = citizen

    def clean_address(self) -> str:
        value = "\n".join(line.strip() for line in self.cleaned_data["address"].splitlines())
        value = value.strip()
        if len(value) < 10:
            raise forms.ValidationError(
                _("Adresinizi eksiksiz yazınız (mahalle, cadde/sokak, no, ilçe / il)."),
                code="short",
            )
        if " ".join(value.split()) == " ".join(self.citizen.address.split()):
            raise forms.ValidationError(
                _("Bu adres zaten kayıtlı adresiniz."),
                code="same",
            )
        return value
