"""One date format per language (nesportal/formats/, FORMAT_MODULE_PATH): 09.11.2029 22:14 in
Turkish, 9 Nov 2029, 22:14 in English — for ``|date`` without an argument, for
``date_format(..., "DATETIME_FORMAT")`` and in the Kullanıma Aç refusal."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.template import Context, Template
from django.utils import timezone, translation
from django.utils.formats import date_format

from certificates.models import CertificateError

# 22:14 in Istanbul (UTC+3).
MOMENT = dt.datetime(2029, 11, 9, 19, 14, tzinfo=dt.UTC)
EXPECTED = {
    "tr": ("09.11.2029", "09.11.2029 22:14"),
    "en": ("9 Nov 2029", "9 Nov 2029, 22:14"),
}


@pytest.mark.parametrize("language", ["tr", "en"])
def test_date_format_and_the_date_filter_agree(language):
    local = timezone.localtime(MOMENT)
    template = Template(
        '{{ d|date }}|{{ d|date:"DATETIME_FORMAT" }}|{{ d|date:"SHORT_DATE_FORMAT" }}'
    )
    with translation.override(language):
        rendered = template.render(Context({"d": local}))
        formatted = (date_format(local, "DATE_FORMAT"), date_format(local, "DATETIME_FORMAT"))

    day, moment = EXPECTED[language]
    assert rendered == f"{day}|{moment}|{day}"
    assert formatted == (day, moment)


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["tr", "en"])
def test_the_kullanima_ac_refusal_writes_the_date_in_the_languages_format(
    language, certificate_factory: Any, citizen: Any
):
    # The active certificate is issued so that it ends at MOMENT (issue_in_state: 3*365-1 days).
    issued = MOMENT - dt.timedelta(days=3 * 365 - 1)
    old, _ = certificate_factory(citizen, "active", now=issued)
    new, _ = certificate_factory(citizen, "pending", now=issued)
    assert old.not_after == MOMENT

    with (
        time_machine.travel(issued + dt.timedelta(hours=2), tick=False),
        translation.override(language),
        pytest.raises(CertificateError) as refused,
    ):
        new.open_for_use(by_citizen=citizen)

    message = str(refused.value)
    assert EXPECTED[language][1] in message
    assert "Kasım" not in message and "p.m." not in message
