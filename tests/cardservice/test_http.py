"""The card service as a local web service: Host, Origin, CORS, Private Network Access, the
shape of requests, and the status and certificate answers (the real process, SoftHSM2)."""

from __future__ import annotations

import base64
import subprocess
import sys
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.cardservice.helpers import ORIGIN, OTHER_ORIGIN, login_body
from tests.cardtoken import Service, Token, request, require_softhsm, run_service


def test_status_lists_the_reader_and_the_card(service: Service, token: Token) -> None:
    status, headers, data = request(service, "GET", "/v1/status")

    assert status == 200
    assert data["service"] == "nes-kart-servisi"
    assert data["version"] == "1.0.0"
    assert data["protocol"] == 1
    assert data["module_loaded"] is True
    cards = [reader["card"] for reader in data["readers"] if reader["card_present"]]
    assert len(cards) == 1
    assert cards[0]["label"] == "AKIS-TEST"
    assert cards[0]["serial"] == token.serial
    assert cards[0]["manufacturer"]
    assert cards[0]["model"]
    assert cards[0]["pin"] == "ok"
    assert cards[0]["pin_tries_left"] == 3
    assert cards[0]["locked"] is False
    # SoftHSM2's empty slot is a reader without a card
    empty = [reader for reader in data["readers"] if not reader["card_present"]]
    assert empty and all(reader["card"] is None for reader in empty)
    assert all(isinstance(reader["slot"], int) for reader in data["readers"])
    assert headers["access-control-allow-origin"] == ORIGIN
    assert headers["vary"] == "Origin"
    assert headers["cache-control"] == "no-store"
    assert headers["x-content-type-options"] == "nosniff"


def test_certificates_lists_every_certificate_with_its_key(
    service: Service, token: Token, ec_pair: Any, rsa_pair: Any
) -> None:
    status, _headers, data = request(service, "GET", "/v1/certificates", origin=OTHER_ORIGIN)

    assert status == 200
    listed = {item["id"]: item for item in data["certificates"]}
    assert set(listed) == set(token.ids)
    for cka_id, (_key, certificate) in zip(token.ids, (ec_pair, rsa_pair), strict=True):
        item = listed[cka_id]
        der = certificate.public_bytes(serialization.Encoding.DER)
        assert base64.b64decode(item["der_b64"]) == der
        assert x509.load_der_x509_certificate(base64.b64decode(item["der_b64"])) == certificate
        assert item["token_serial"] == token.serial
        assert item["token_label"] == "AKIS-TEST"
        assert item["has_key"] is True
        assert item["label"].startswith("Test Vatandaş")


def test_the_page_says_it_runs_and_where_the_pin_goes(service: Service) -> None:
    status, headers, page = request(service, "GET", "/", origin=None)

    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert "Servis çalışıyor" in page
    assert "The service is running" in page
    assert "PIN'iniz yalnızca kartınıza gider" in page
    assert "never sent to the portal server" in page
    assert ORIGIN in page and OTHER_ORIGIN in page


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "http://127.0.0.1:8001",
        "https://127.0.0.1:8000",
        "http://127.0.0.1:8000/",
        "http://127.0.0.1",
        "null",
        "HTTP://127.0.0.1:8000",
    ],
)
@pytest.mark.parametrize("path", ["/v1/status", "/v1/certificates"])
def test_a_foreign_origin_is_refused_without_cors_headers(
    service: Service, origin: str, path: str
) -> None:
    status, headers, data = request(service, "GET", path, origin=origin)

    assert status == 403
    assert data == {"error": "origin_refused"}
    assert not any(name.startswith("access-control-") for name in headers)


def test_a_foreign_origin_cannot_sign(service: Service, token: Token) -> None:
    status, headers, data = request(
        service, "POST", "/v1/sign", body=login_body(token), origin="http://evil.example"
    )

    assert (status, data) == (403, {"error": "origin_refused"})
    assert "access-control-allow-origin" not in headers


@pytest.mark.parametrize("path", ["/v1/status", "/v1/certificates", "/v1/sign"])
def test_no_origin_is_refused_on_v1(service: Service, path: str) -> None:
    status, _headers, data = request(service, "GET", path, origin=None)

    assert (status, data) == (403, {"error": "origin_refused"})


@pytest.mark.parametrize(
    "host",
    [
        "evil.example:{port}",
        "127.0.0.1.evil.example:{port}",
        "127.0.0.1:1",
        "127.0.0.1",
        "localhost",
        "localhost.:{port}",
        "0.0.0.0:{port}",
        "[::ffff:127.0.0.1]:{port}",
        "127.0.0.1:{port}.evil.example",
    ],
)
@pytest.mark.parametrize("path", ["/", "/v1/status"])
def test_a_rebinding_host_is_refused(service: Service, host: str, path: str) -> None:
    status, headers, data = request(service, "GET", path, host=host.format(port=service.port))

    assert (status, data) == (403, {"error": "host_refused"})
    assert not any(name.startswith("access-control-") for name in headers)


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}"])
def test_the_loopback_names_are_accepted(service: Service, host: str) -> None:
    status, _headers, _data = request(
        service, "GET", "/v1/status", host=host.format(port=service.port)
    )

    assert status == 200


def test_preflight_with_private_network_access(service: Service) -> None:
    status, headers, _data = request(
        service,
        "OPTIONS",
        "/v1/sign",
        headers={
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
            "Access-Control-Request-Private-Network": "true",
        },
    )

    assert status == 204
    assert headers["access-control-allow-origin"] == ORIGIN
    assert headers["access-control-allow-methods"] == "GET, POST"
    assert headers["access-control-allow-headers"] == "Content-Type"
    assert headers["access-control-max-age"] == "600"
    assert headers["access-control-allow-private-network"] == "true"
    assert headers["vary"] == "Origin"


def test_preflight_without_pna_request_has_no_pna_header(service: Service) -> None:
    status, headers, _data = request(
        service, "OPTIONS", "/v1/status", headers={"Access-Control-Request-Method": "GET"}
    )

    assert status == 204
    assert "access-control-allow-private-network" not in headers


@pytest.mark.parametrize(
    ("origin", "method", "request_headers"),
    [
        ("http://evil.example", "POST", "content-type"),
        (None, "POST", "content-type"),
        (ORIGIN, "PUT", "content-type"),
        (ORIGIN, "DELETE", ""),
        (ORIGIN, "POST", "content-type, authorization"),
        (ORIGIN, "POST", "x-requested-with"),
    ],
)
def test_other_preflights_are_refused(
    service: Service, origin: str | None, method: str, request_headers: str
) -> None:
    headers = {
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Private-Network": "true",
    }
    if request_headers:
        headers["Access-Control-Request-Headers"] = request_headers
    status, answer, _data = request(service, "OPTIONS", "/v1/sign", origin=origin, headers=headers)

    assert status == 403
    assert not any(name.startswith("access-control-") for name in answer)


def test_a_body_over_16_kib_is_refused(service: Service, token: Token) -> None:
    body = login_body(token)
    body["padding"] = "x" * (16 * 1024)

    status, _headers, data = request(service, "POST", "/v1/sign", body=body)

    assert (status, data) == (413, {"error": "too_large"})


@pytest.mark.parametrize(
    "raw", [b"{", b"not json", b"\xff\xfe", b'{"kind": "login", "kind": "login"}', b"[" * 5000]
)
def test_junk_json_is_refused(service: Service, raw: bytes) -> None:
    status, _headers, data = request(
        service, "POST", "/v1/sign", raw=raw, headers={"Content-Type": "application/json"}
    )

    assert status == 400
    assert data["error"] in ("bad_json", "format_refused")


@pytest.mark.parametrize("raw", [b"[]", b'"login"', b"null", b"42"])
def test_json_that_is_not_an_object_is_refused(service: Service, raw: bytes) -> None:
    status, _headers, data = request(
        service, "POST", "/v1/sign", raw=raw, headers={"Content-Type": "application/json"}
    )

    assert (status, data) == (400, {"error": "format_refused"})


def test_sign_wants_json(service: Service, token: Token) -> None:
    status, _headers, data = request(
        service, "POST", "/v1/sign", raw=b"kind=login", headers={"Content-Type": "text/plain"}
    )

    assert (status, data) == (415, {"error": "unsupported_media_type"})


def test_unknown_paths_and_methods(service: Service) -> None:
    assert request(service, "GET", "/v1/nothing")[0] == 404
    assert request(service, "GET", "/v1/sign")[0] == 405
    assert request(service, "POST", "/v1/status", body={})[0] == 405
    assert request(service, "GET", "/favicon.ico", origin=None)[0] == 404


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.org"])  # noqa: S104
def test_a_public_listen_address_is_refused_at_start(host: str, tmp_path: Any) -> None:
    require_softhsm()
    done = subprocess.run(
        [sys.executable, "-m", "nes_kart_servisi", "serve", "--host", host, "--port", "1"],
        capture_output=True,
        text=True,
        timeout=30,
        env={"NES_KART_STATE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        check=False,
    )

    assert done.returncode == 2
    assert "refused" in done.stderr
    assert "loopback" in done.stderr


def test_a_module_that_does_not_load_is_reported(tmp_path: Any, token: Token) -> None:
    with run_service(
        token,
        origins=[ORIGIN],
        state_dir=tmp_path / "state",
        module=str(tmp_path / "no-such-module.so"),
    ) as broken:
        status, _headers, data = request(broken, "GET", "/v1/status")
        assert status == 200
        assert data["module_loaded"] is False
        assert data["module_error"]
        assert data["readers"] == []
        assert request(broken, "GET", "/v1/certificates")[0] == 503
        status, _headers, data = request(broken, "POST", "/v1/sign", body=login_body(token))
        assert (status, data) == (503, {"error": "module_unavailable"})
