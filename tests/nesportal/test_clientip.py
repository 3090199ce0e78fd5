"""nesportal.clientip: the client address behind (un)trusted proxies, and the throttle key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import RequestFactory

from nesportal.clientip import client_ip, client_key, parse_address

PROXY = "10.0.0.5"
CLIENT = "203.0.113.7"


def request(remote: str = CLIENT, xff: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if xff is not None:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return RequestFactory().get("/", **extra)


@pytest.fixture
def behind_proxy(settings):
    settings.NES_TRUSTED_PROXIES = ["10.0.0.0/24", "2001:db8:ffff::1"]
    return settings


def test_it_uses_the_peer_without_trusted_proxies(settings):
    settings.NES_TRUSTED_PROXIES = []

    assert client_ip(request(CLIENT)) == CLIENT
    assert client_key(request(CLIENT)) == CLIENT


def test_it_ignores_a_forwarded_header_sent_by_an_untrusted_peer(behind_proxy):
    # The peer is not our proxy: whatever it writes is text, not an address we believe.
    spoofed = request(CLIENT, xff="198.51.100.1, 10.0.0.7")

    assert client_ip(spoofed) == CLIENT


def test_it_ignores_the_header_when_nothing_is_trusted(settings):
    settings.NES_TRUSTED_PROXIES = []

    assert client_ip(request(PROXY, xff="198.51.100.1")) == PROXY


def test_it_takes_the_rightmost_untrusted_entry_behind_a_trusted_proxy(behind_proxy):
    # The client sent "X-Forwarded-For: 198.51.100.1" itself; our proxy appended its address.
    assert client_ip(request(PROXY, xff=f"198.51.100.1, {CLIENT}")) == CLIENT


def test_it_skips_every_trusted_hop(behind_proxy):
    hops = f"192.0.2.1, {CLIENT}, 10.0.0.9, 2001:db8:ffff::1"

    assert client_ip(request(PROXY, xff=hops)) == CLIENT


def test_it_takes_the_leftmost_hop_when_every_hop_is_trusted(behind_proxy):
    assert client_ip(request(PROXY, xff="10.0.0.8, 10.0.0.9")) == "10.0.0.8"


def test_it_uses_the_peer_when_a_trusted_proxy_sends_no_header(behind_proxy):
    assert client_ip(request(PROXY)) == PROXY
    assert client_ip(request(PROXY, xff="  , ")) == PROXY


@pytest.mark.parametrize(
    "junk", ["unknown", "not-an-ip", "300.1.2.3", "_hidden", "203.0.113.7.5", "\x00", "[::1"]
)
def test_it_falls_back_to_the_peer_on_junk(behind_proxy, junk):
    assert client_ip(request(PROXY, xff=f"{CLIENT}, {junk}")) == PROXY


def test_junk_left_of_the_client_is_never_read(behind_proxy):
    assert client_ip(request(PROXY, xff=f"junk, {CLIENT}")) == CLIENT


@pytest.mark.parametrize(
    ("written", "address"),
    [
        ("203.0.113.7:51234", CLIENT),
        ("[2001:db8::1]", "2001:db8::1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("::ffff:203.0.113.7", CLIENT),
        (" 2001:DB8::1 ", "2001:db8::1"),
    ],
)
def test_it_reads_addresses_the_way_proxies_write_them(written, address):
    assert str(parse_address(written)) == address


def test_it_keys_ipv6_clients_by_their_64(behind_proxy):
    one = request("2001:db8:1:2::10")
    same_line = request("2001:db8:1:2:ffff:ffff:ffff:ffff")
    other_line = request("2001:db8:1:3::10")
    via_proxy = request(PROXY, xff="2001:db8:1:2::99")

    assert client_key(one) == "2001:db8:1:2::/64"
    assert client_key(same_line) == client_key(one) == client_key(via_proxy)
    assert client_key(other_line) != client_key(one)
    # The audit log keeps the full address.
    assert client_ip(one) == "2001:db8:1:2::10"


def test_it_counts_an_ipv4_mapped_peer_as_ipv4(settings):
    settings.NES_TRUSTED_PROXIES = []

    assert client_key(request("::ffff:203.0.113.7")) == CLIENT


def test_it_returns_nothing_for_a_peer_that_is_no_address(settings):
    settings.NES_TRUSTED_PROXIES = []

    assert client_ip(request("")) == ""
    assert client_key(request("")) == "unknown"


def test_the_audit_log_records_the_client_behind_the_proxy(behind_proxy, db):
    from audit.actor import Actor
    from audit.log import record

    event = record(
        "nes.test.event", actor=Actor.from_request(request(PROXY, xff=f"198.51.100.1, {CLIENT}"))
    )

    event.refresh_from_db()
    assert event.ip_address == CLIENT


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("NES_TRUSTED_PROXIES", "10.0.0.0/33", "10.0.0.0/33"),
        ("NES_THROTTLES", "nosuch=1/m", "unknown throttle 'nosuch'"),
        ("NES_THROTTLES", "login=ten/m", "rates are count/period"),
    ],
)
def test_the_settings_refuse_a_malformed_variable(tmp_path, variable, value, message):
    manage = Path(django_settings.BASE_DIR) / "manage.py"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DEBUG": "true",
        "VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "nesportal.settings",
        variable: value,
    }

    result = subprocess.run(
        [sys.executable, str(manage), "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr
