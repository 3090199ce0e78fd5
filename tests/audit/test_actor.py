"""``audit.actor.Actor``: who acted, built once from a request (or for a command) and what
``audit.log.record`` makes of it."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from audit.actor import Actor
from audit.log import record
from audit.models import AuditEvent
from nesportal.testing.factories import CitizenFactory, StaffUserFactory

pytestmark = pytest.mark.django_db


def test_from_request_takes_citizen_staff_user_address_and_request_id():
    citizen = CitizenFactory()
    agent = StaffUserFactory()
    request = RequestFactory().post("/admin/", REMOTE_ADDR="198.51.100.7")
    request.citizen = citizen  # type: ignore[attr-defined]
    request.user = agent
    request.request_id = "abc123"  # type: ignore[attr-defined]

    actor = Actor.from_request(request, tool="kart-araci")

    assert actor == Actor(
        citizen=citizen, user=agent, tool="kart-araci", ip="198.51.100.7", request_id="abc123"
    )


def test_from_request_without_middleware_attributes_is_an_anonymous_visitor():
    request = RequestFactory().get("/", REMOTE_ADDR="")
    request.user = AnonymousUser()

    actor = Actor.from_request(request)

    assert actor == Actor()  # no citizen, no user, no address ("" becomes None), no id


def test_the_actor_is_a_frozen_value():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Actor.system("manage.py card_tool").ip = "198.51.100.7"  # type: ignore[misc]


def test_system_actor_records_no_user_and_no_address():
    event = record("nes.test.event", actor=Actor.system("manage.py card_tool"))

    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.actor is None
    assert stored.ip_address is None


def test_record_takes_the_staff_user_and_address_from_the_actor_and_the_citizen_as_given():
    citizen, other = CitizenFactory(), CitizenFactory()
    agent = StaffUserFactory()
    actor = Actor(citizen=other, user=agent, ip="2001:db8::1")

    event = record("nes.test.event", actor=actor, citizen=citizen)

    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.citizen == citizen  # the citizen the event is about, never the actor's
    assert stored.actor == agent
    assert stored.ip_address == "2001:db8::1"


def test_with_user_credits_another_staff_user_and_keeps_the_address():
    agent = StaffUserFactory()

    actor = Actor(ip="198.51.100.7", request_id="r1").with_user(agent)

    assert (actor.user, actor.ip, actor.request_id) == (agent, "198.51.100.7", "r1")
    assert Actor(user=agent).with_user(None).audit_user is None


def test_a_citizens_own_action_is_not_credited_to_a_staff_user_in_the_same_browser(
    rf: Any, citizen: Any, django_user_model: Any, settings: Any
) -> None:
    from audit.actor import Actor

    agent = django_user_model.objects.create_user("ajan-tarayici", is_staff=True)
    page = rf.get("/sertifikalar/")
    page.user, page.citizen = agent, citizen
    admin_page = rf.get("/" + settings.ADMIN_URL + "accounts/citizen/")
    admin_page.user, admin_page.citizen = agent, citizen

    assert Actor.from_request(page).audit_user is None
    assert Actor.from_request(page).citizen == citizen
    assert Actor.from_request(admin_page).audit_user == agent
