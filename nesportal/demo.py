"""Demo data: the citizens and staff that ``manage.py seed_demo`` creates.

The values are public on purpose (README, console): for the demo and integrators' tests only.
Running it again updates the same rows and resets their security words and passwords; it does
not touch lock state, so a citizen locked in the demo stays locked until an agent unlocks them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction

from accounts.callcentre import ensure_call_centre_group
from accounts.models import Citizen


@dataclass(frozen=True)
class DemoCitizen:
    identifier: str
    first_name: str
    last_name: str
    word: str
    phone: str
    birth_date: dt.date
    email: str
    address: str

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class DemoStaff:
    username: str
    password: str
    role: str
    superuser: bool = False


@dataclass
class DemoResult:
    citizens: list[DemoCitizen] = field(default_factory=list)
    staff: list[DemoStaff] = field(default_factory=list)


DEMO_CITIZENS = [
    DemoCitizen(
        "10000000146",
        "Kerimcan",
        "Zeytin",
        "zeytin-dalı-42",
        "+905320000012",
        dt.date(1980, 3, 14),
        "kerimcan.zeytin@example.com.tr",
        "Kızılay Mah. Atatürk Bulvarı No: 5, Çankaya / Ankara",
    ),
    DemoCitizen(
        "12345678028",
        "Ayşe",
        "Yılmaz",
        "mavi-güneş-7",
        "+905421234534",
        dt.date(1975, 11, 2),
        "ayse.yilmaz@example.com.tr",
        "Bağdat Cad. No: 120, Kadıköy / İstanbul",
    ),
    DemoCitizen(
        "23456789138",
        "İsmail",
        "Çelik",
        "şahin-dağı-19",
        "+905059876556",
        dt.date(1990, 6, 30),
        "ismail.celik@example.com.tr",
        "Cumhuriyet Mah. İnönü Sok. No: 3, Gebze / Kocaeli",
    ),
    DemoCitizen(
        "U12345678",
        "Anna",
        "Schmidt",
        "lindenbaum-24",
        "+905551112233",
        dt.date(1988, 1, 9),
        "anna.schmidt@example.com",
        "Konyaaltı Cad. No: 44, Muratpaşa / Antalya",
    ),
]

DEMO_STAFF = [
    DemoStaff("cagri", "Cagri-Demo-2026!", "Çağrı Merkezi temsilcisi"),
    DemoStaff("yonetici", "Yonetici-Demo-2026!", "yönetici (superuser)", superuser=True),
]


@transaction.atomic
def seed_demo() -> DemoResult:
    result = DemoResult()
    for demo in DEMO_CITIZENS:
        lookup = (
            {"tckn": demo.identifier}
            if demo.identifier.isdigit()
            else {"passport_no": demo.identifier}
        )
        citizen = Citizen.objects.filter(**lookup).first() or Citizen(**lookup)
        citizen.first_name = demo.first_name
        citizen.last_name = demo.last_name
        citizen.birth_date = demo.birth_date
        citizen.mobile_phone = demo.phone
        citizen.email = demo.email
        citizen.address = demo.address
        citizen.set_security_word(demo.word)
        citizen.full_clean()
        citizen.save()
        result.citizens.append(demo)

    user_model = get_user_model()
    group = ensure_call_centre_group()
    for staff in DEMO_STAFF:
        user, _ = user_model.objects.get_or_create(username=staff.username)
        user.is_staff = True
        user.is_superuser = staff.superuser
        user.set_password(staff.password)
        user.save()
        if not staff.superuser:
            user.groups.set([group])
        result.staff.append(staff)
    return result
