"""The input boundary: malformed requests are refused with 400 before any view sees them.

``InputValidationMiddleware`` (early in MIDDLEWARE, before sessions, CSRF and the views) raises
``RefusedInput`` — a ``BadRequest``, so Django answers through ``handler400``
(``nesportal.errors.bad_request``) and logs one line (``nesportal.logs.OneLineRefusals``) —
for a request whose

* path, query string (names and values) or any header holds a C0 control character
  (U+0000–U+001F) or DEL; a header value may hold a tab (RFC 9110 allows it);
* query string is not valid UTF-8 after percent-decoding, or has more than
  ``DATA_UPLOAD_MAX_NUMBER_FIELDS`` fields;
* ``Content-Length`` is not a number;
* form body (``application/x-www-form-urlencoded`` or ``multipart/form-data``) declares a
  charset other than UTF-8 (any spelling Python's codecs resolve to utf-8, e.g. ``utf8``, is
  accepted and normalised), is not valid UTF-8, has a field name with a control character or a
  field value with a control character other than tab, CR and LF (those three occur in a
  textarea such as an address; single-line fields are cleaned by their forms), is larger than
  ``DATA_UPLOAD_MAX_MEMORY_SIZE`` or has more than ``DATA_UPLOAD_MAX_NUMBER_FIELDS`` fields;
  in a multipart body only the non-file fields and the file names are checked (a field that
  was not UTF-8 shows up as U+FFFD after Django's decoding and is refused too);
* JSON or text body (``application/json``, ``*+json``, ``text/*``) is not valid UTF-8 or
  holds a NUL byte (no view parses one today; this keeps the promise for the first that does).

A charset declared on any other body (``application/ocsp-request; charset=ascii``) is not
refused — such a body is not text — but it is not used either: the request's encoding is set
to UTF-8, the only encoding a query string passes the check above in (Django would otherwise
re-read the query string in that charset, and admin's filter-preserving ``urlencode`` fails
on a non-ASCII field name).

Other bodies are not read here. The CA's public repository (``/ocsp``, ``/crl/…``, ``/ca/…``,
see ``nesportal.middleware.is_public_repository``) is checked for its path, query and headers
only: an OCSP request body is DER (``application/ocsp-request``), read by its own view.

An integer too large for SQLite (the embedded default; PostgreSQL compares it fine), e.g. an
admin list filter ``?groups=99999999999999999999``, is a 400 too (``process_exception``).

Cookies are not a reason to refuse: one whose name or value holds a control character is
dropped from ``request.COOKIES`` (a stale or forged cookie must not lock anybody out), so a
session key with a NUL never reaches the database.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError

from .middleware import is_public_repository

# C0 controls and DEL; in form values tab, LF and CR are allowed (textarea).
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
CONTROL_IN_VALUE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CONTROL_IN_HEADER = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class RefusedInput(BadRequest):
    """The request's input is malformed; the message says what (it goes to the log)."""


def _is_text_type(content_type: str) -> bool:
    return (
        content_type.startswith("text/")
        or content_type == "application/json"
        or content_type.endswith("+json")
    )


def is_utf8(charset: str) -> bool:
    try:
        return codecs.lookup(charset).name == "utf-8"
    except LookupError:
        return False


def check_fields(pairs: Iterable[tuple[str, str]], where: str, *, multiline: bool) -> None:
    value_re = CONTROL_IN_VALUE if multiline else CONTROL
    for name, value in pairs:
        if CONTROL.search(name):
            raise RefusedInput(f"control character in a {where} field name")
        if value_re.search(value):
            raise RefusedInput(f"control character in a {where} field value")


def parse_urlencoded(raw: bytes, where: str) -> list[tuple[str, str]]:
    try:
        text = raw.decode("utf-8")
        return parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS,
        )
    except UnicodeDecodeError as exc:
        raise RefusedInput(f"the {where} is not valid UTF-8") from exc
    except ValueError as exc:  # parse_qsl: "Max number of fields exceeded"
        raise RefusedInput(f"too many fields in the {where}") from exc


class InputValidationMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.check_request(request)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        # SQLite (the embedded default) cannot bind an integer beyond 64 bits, which only input
        # produces (an admin filter ?groups=99999999999999999999); PostgreSQL compares it fine.
        if isinstance(exception, OverflowError) and "SQLite INTEGER" in str(exception):
            raise RefusedInput("an integer too large for the database") from exception

    def check_request(self, request: HttpRequest) -> None:
        if CONTROL.search(request.path):
            raise RefusedInput("control character in the path")
        self.check_headers(request)
        self.drop_bad_cookies(request)
        raw_query = request.META.get("QUERY_STRING", "")
        if raw_query:
            # WSGI hands the query string over as latin-1 text of the raw bytes.
            pairs = parse_urlencoded(raw_query.encode("latin-1", "replace"), "query string")
            check_fields(pairs, "query string", multiline=False)
        if not is_public_repository(request):
            self.check_body(request)
        if request.encoding is not None and request.encoding != "utf-8":
            # Django decodes the query string with the body's declared charset (WSGIRequest
            # takes it from any Content-Type, e.g. ``application/ocsp-request; charset=ascii``);
            # the query string was checked as UTF-8 above, and only form bodies are decoded,
            # whose charset must be UTF-8 — so UTF-8 is the only right reading of either.
            request.encoding = "utf-8"

    @staticmethod
    def check_headers(request: HttpRequest) -> None:
        for key, value in request.META.items():
            if (key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH")) and (
                isinstance(value, str) and CONTROL_IN_HEADER.search(value)
            ):
                if key == "HTTP_COOKIE":
                    continue  # cookies are dropped one by one, below
                raise RefusedInput(f"control character in the {key} header")
        length = request.META.get("CONTENT_LENGTH") or ""
        if length and not (length.isascii() and length.isdigit()):
            raise RefusedInput("Content-Length is not a number")

    @staticmethod
    def drop_bad_cookies(request: HttpRequest) -> None:
        cookies = request.COOKIES
        if any(CONTROL.search(name) or CONTROL.search(value) for name, value in cookies.items()):
            request.COOKIES = {
                name: value
                for name, value in cookies.items()
                if not (CONTROL.search(name) or CONTROL.search(value))
            }

    def check_body(self, request: HttpRequest) -> None:
        content_type = request.content_type or ""
        if content_type in FORM_TYPES:
            charset = (request.content_params or {}).get("charset")
            if charset is not None:
                if not is_utf8(charset):
                    raise RefusedInput(f"form body declared as {charset[:40]!r}, not UTF-8")
                request.encoding = "utf-8"  # Django refuses other spellings of utf-8
            if content_type == "multipart/form-data":
                self.check_multipart(request)
            else:
                pairs = parse_urlencoded(self.read_body(request), "form body")
                check_fields(pairs, "form", multiline=True)
        elif _is_text_type(content_type):
            body = self.read_body(request)
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise RefusedInput("the body is not valid UTF-8") from exc
            if b"\x00" in body:
                raise RefusedInput("NUL byte in the body")

    @staticmethod
    def read_body(request: HttpRequest) -> bytes:
        try:
            return request.body
        except RequestDataTooBig as exc:
            raise RefusedInput("the body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE") from exc

    @staticmethod
    def check_multipart(request: HttpRequest) -> None:
        if request.method != "POST":
            return  # Django parses multipart bodies of POST requests only
        try:
            post, files = request.POST, request.FILES
        except (
            MultiPartParserError,
            TooManyFieldsSent,
            TooManyFilesSent,
            RequestDataTooBig,
            SuspiciousOperation,
            UnicodeDecodeError,
            ValueError,
        ) as exc:
            raise RefusedInput(f"malformed multipart body ({type(exc).__name__})") from exc
        pairs = list(post.lists())
        check_fields(
            ((name, value) for name, values in pairs for value in values), "form", multiline=True
        )
        if any("\ufffd" in value for _name, values in pairs for value in values):
            raise RefusedInput("a multipart field is not valid UTF-8")
        check_fields(
            ((name, upload.name or "") for name, uploads in files.lists() for upload in uploads),
            "file",
            multiline=False,
        )
