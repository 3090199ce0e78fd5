"""factory-boy factories for integrators' and our own tests."""

from __future__ import annotations

import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from factory.django import DjangoModelFactory

from accounts.callcentre import ensure_call_centre_group
from accounts.identity import tckn_check_digits
from accounts.models import Citizen

DEFAULT_SECURITY_WORD = "Güvenli-Sözcük-2026"


def tckn_for(n: int) -> str:
    """A valid T.C. Kimlik No for sequence number ``n`` (distinct for distinct n < 10^8)."""
    first_nine = f"9{n:08d}"
    return first_nine + tckn_check_digits(first_nine)


def mobile_for(n: int) -> str:
    return f"+90532{n % 10_000_000:07d}"


class CitizenFactory(DjangoModelFactory):
    """A citizen whose security word is ``security_word`` (default ``DEFAULT_SECURITY_WORD``).

    ``CitizenFactory(passport=True)`` makes a foreigner identified by a passport number.
    """

    class Meta:
        model = Citizen

    class Params:
        security_word = DEFAULT_SECURITY_WORD
        passport = factory.Trait(tckn=None, passport_no=factory.Sequence(lambda n: f"P{n:08d}"))

    tckn = factory.Sequence(tckn_for)
    passport_no = None
    first_name = factory.Faker("first_name", locale="tr_TR")
    last_name = factory.Faker("last_name", locale="tr_TR")
    birth_date = dt.date(1985, 4, 23)
    mobile_phone = factory.Sequence(mobile_for)
    email = factory.LazyAttribute(lambda o: f"vatandas{o.mobile_phone[-7:]}@example.com.tr")
    address = "Atatürk Cad. No: 1, Çankaya / Ankara"
    security_word_hash = factory.LazyAttribute(lambda o: make_password(o.security_word))


class StaffUserFactory(DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"personel{n}")
    is_staff = True
    password = factory.django.Password("Personel-Parola-2026")


class CallCentreAgentFactory(StaffUserFactory):
    """A staff user whose only permissions come from the "Çağrı Merkezi" group."""

    username = factory.Sequence(lambda n: f"cagri{n}")

    @factory.post_generation
    def groups(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.groups.add(ensure_call_centre_group())
