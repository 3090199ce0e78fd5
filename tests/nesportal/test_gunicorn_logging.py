from types import SimpleNamespace

from gunicorn.config import Config

from nesportal.gunicorn_logging import RedactingLogger, redact


def test_it_masks_tokens_in_link_paths():
    assert redact("/guvenlik-sozcugu/baglanti/abc123/") == "/guvenlik-sozcugu/baglanti/***/"
    assert redact("GET /bilgi-guncelle/e-posta/onay/tok-en_1/ HTTP/1.1") == (
        "GET /bilgi-guncelle/e-posta/onay/***/ HTTP/1.1"
    )
    assert redact("/sertifikalar/abc/") == "/sertifikalar/abc/"


def test_the_access_log_atoms_carry_no_token():
    logger = RedactingLogger(Config())
    req = SimpleNamespace(
        headers=[],
        method="GET",
        path="/guvenlik-sozcugu/baglanti/SECRETTOKEN/",
        query="",
        version=(1, 1),
        uri="/guvenlik-sozcugu/baglanti/SECRETTOKEN/",
    )
    resp = SimpleNamespace(status="200 OK", sent=10, headers=[], response_length=10)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/guvenlik-sozcugu/baglanti/SECRETTOKEN/",
        "PATH_INFO": "/guvenlik-sozcugu/baglanti/SECRETTOKEN/",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
    }
    from datetime import timedelta

    atoms = logger.atoms(resp, req, environ, timedelta(seconds=0.1))
    assert "SECRETTOKEN" not in repr(atoms)


def test_django_log_records_carry_no_token():
    import logging

    from nesportal.gunicorn_logging import RedactTokenPaths

    record = logging.LogRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "%s: %s",
        ("Not Found", "/bilgi-guncelle/e-posta/onay/SECRETTOKEN/"),
        None,
    )
    assert RedactTokenPaths().filter(record) is True
    assert record.getMessage() == "Not Found: /bilgi-guncelle/e-posta/onay/***/"
