"""PKCS#11 access to the card through python-pkcs11: readers, certificates, and signing.

``pkcs11.lib(path)`` loads one module per process, so a :class:`Cards` holds one module for
the whole life of the service; every call into it runs under one lock (cards are slow and a
PKCS#11 module is not always thread-safe). Signing is the only place the PIN is used: it goes
to C_Login and nowhere else.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass, SlotFlag, TokenFlag
from pkcs11 import exceptions as pk_exc
from pkcs11.util.ec import encode_ecdsa_signature

from nes_kart_servisi.cms import build_signed_data
from nes_kart_servisi.formats import PinMalformed, SignRequest
from nes_kart_servisi.pinguard import PinGuard

# Where the AKİS middleware (Kamu SM / TÜBİTAK BİLGEM) puts its PKCS#11 module, then SoftHSM2.
DEFAULT_MODULES = (
    r"C:\Windows\System32\akisp11.dll",
    r"C:\Windows\SysWOW64\akisp11.dll",
    "/usr/lib/libakisp11.so",
    "/usr/local/lib/libakisp11.so",
    "/usr/lib/x86_64-linux-gnu/libakisp11.so",
    "/usr/local/lib/libakisp11.dylib",
    "/Library/AKIS/libakisp11.dylib",
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
)


class CardError(Exception):
    """Base of what the HTTP layer turns into an answer (``code`` is the JSON ``error``)."""

    status = 500
    code = "card_error"


class ModuleUnavailable(CardError):
    status = 503
    code = "module_unavailable"


class CardAbsent(CardError):
    status = 404
    code = "card_absent"


class CertificateNotFound(CardError):
    status = 404
    code = "certificate_not_found"


class PinLocked(CardError):
    status = 423
    code = "pin_locked"


class PinIncorrect(CardError):
    status = 401
    code = "pin_incorrect"

    def __init__(self, tries_left: int) -> None:
        super().__init__("wrong PIN")
        self.tries_left = tries_left


def token_serial(token: Any) -> str:
    raw: bytes = token.serial
    return raw.decode("ascii", "replace").strip(" \0")


def _is_card(token: Any) -> bool:
    """A usable token: initialised and labelled (SoftHSM2 always offers one empty slot)."""
    return bool(token.flags & TokenFlag.TOKEN_INITIALIZED) and bool(token.label.strip())


def _attr(obj: Any, attribute: Attribute, default: Any = None) -> Any:
    try:
        return obj[attribute]
    except (pk_exc.PKCS11Error, KeyError, NotImplementedError):
        return default


@dataclass(frozen=True)
class PinState:
    state: str  # "ok" | "count_low" | "final_try" | "locked"
    tries_left: int | None
    locked: bool


class Cards:
    """The PKCS#11 module and the cards in its slots."""

    def __init__(self, module_path: str, guard: PinGuard) -> None:
        self.module_path = module_path
        self.guard = guard
        self._lib: Any = None
        self.module_error: str | None = None
        self._lock = threading.RLock()

    # --- the module ---------------------------------------------------------------------
    def _module(self) -> Any:
        if self._lib is None:
            try:
                self._lib = pkcs11.lib(self.module_path)
            except Exception as exc:  # any load failure: a missing file, a foreign .so …
                self.module_error = f"{type(exc).__name__}: {exc}"[:300]
                raise ModuleUnavailable(self.module_error) from exc
            self.module_error = None
        return self._lib

    def load(self) -> bool:
        with self._lock:
            try:
                self._module()
            except ModuleUnavailable:
                return False
            return True

    def _slots(self) -> list[Any]:
        try:
            return list(self._module().get_slots())
        except pk_exc.PKCS11Error as exc:
            raise ModuleUnavailable(type(exc).__name__) from exc

    @staticmethod
    def _token_of(slot: Any) -> Any | None:
        if not slot.flags & SlotFlag.TOKEN_PRESENT:
            return None
        try:
            token = slot.get_token()
        except (pk_exc.TokenNotPresent, pk_exc.TokenNotRecognised, pk_exc.DeviceRemoved):
            return None
        return token if _is_card(token) else None

    def _cards(self) -> Iterator[Any]:
        for slot in self._slots():
            token = self._token_of(slot)
            if token is not None:
                yield token

    def _find(self, serial: str) -> Any:
        for token in self._cards():
            if token_serial(token) == serial:
                return token
        raise CardAbsent(serial)

    # --- answers --------------------------------------------------------------------------
    def pin_state(self, token: Any) -> PinState:
        serial = token_serial(token)
        flags = token.flags
        locked = bool(flags & TokenFlag.USER_PIN_LOCKED) or self.guard.is_locked(serial)
        left = self.guard.tries_left(serial)
        if flags & TokenFlag.USER_PIN_FINAL_TRY:
            left = min(left, 1)
        if locked:
            return PinState("locked", 0, True)
        if left == 1:
            return PinState("final_try", 1, False)
        if flags & TokenFlag.USER_PIN_COUNT_LOW or left < self.guard.max_wrong:
            return PinState("count_low", left, False)
        return PinState("ok", left, False)

    def status(self) -> dict[str, Any]:
        """The ``readers`` list of ``GET /v1/status`` (raises :class:`ModuleUnavailable`)."""
        with self._lock:
            readers: list[dict[str, Any]] = []
            for slot in self._slots():
                token = self._token_of(slot)
                card: dict[str, Any] | None = None
                if token is not None:
                    pin = self.pin_state(token)
                    card = {
                        "label": token.label.strip(),
                        "serial": token_serial(token),
                        "manufacturer": token.manufacturer_id.strip(),
                        "model": token.model.strip(),
                        "pin": pin.state,
                        "pin_tries_left": pin.tries_left,
                        "locked": pin.locked,
                    }
                readers.append(
                    {
                        "slot": int(slot.slot_id),
                        "description": slot.slot_description.strip(),
                        "card_present": card is not None,
                        "card": card,
                    }
                )
            return {"readers": readers}

    def certificates(self) -> list[dict[str, Any]]:
        """Every X.509 certificate object on every card (public objects: no login)."""
        with self._lock:
            found: list[dict[str, Any]] = []
            for token in self._cards():
                try:
                    found.extend(self._certificates_of(token))
                except (pk_exc.TokenNotPresent, pk_exc.DeviceRemoved, pk_exc.SessionClosed):
                    continue
            return found

    @staticmethod
    def _certificates_of(token: Any) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = []
        with token.open() as session:
            key_ids = set()
            for cls in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY):
                for obj in session.get_objects({Attribute.CLASS: cls}):
                    key_ids.add(bytes(_attr(obj, Attribute.ID, b"") or b""))
            for obj in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}):
                der = _attr(obj, Attribute.VALUE)
                if not der:
                    continue
                cka_id = bytes(_attr(obj, Attribute.ID, b"") or b"")
                result.append(
                    {
                        "token_serial": token_serial(token),
                        "token_label": token.label.strip(),
                        "id": cka_id.hex(),
                        "label": str(_attr(obj, Attribute.LABEL, "") or ""),
                        "der_b64": base64.b64encode(bytes(der)).decode("ascii"),
                        "has_key": bool(cka_id) and cka_id in key_ids,
                    }
                )
        return result

    # --- signing --------------------------------------------------------------------------
    @staticmethod
    def _certificate_der(token: Any, cka_id: bytes) -> bytes:
        with token.open() as session:
            for obj in session.get_objects(
                {Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.ID: cka_id}
            ):
                der = _attr(obj, Attribute.VALUE)
                if der:
                    return bytes(der)
        raise CertificateNotFound(cka_id.hex())

    @contextmanager
    def _login(self, token: Any, serial: str, pin: str) -> Iterator[Any]:
        try:
            session = token.open(user_pin=pin)
        except pk_exc.PinIncorrect:
            left = self.guard.record_wrong(serial)
            try:
                fresh = self._find(serial)
            except CardAbsent:
                fresh = token
            if fresh.flags & TokenFlag.USER_PIN_LOCKED:
                left = 0
            elif fresh.flags & TokenFlag.USER_PIN_FINAL_TRY:
                left = min(left, 1)
            if left == 0:
                raise PinLocked(serial) from None
            raise PinIncorrect(left) from None
        except pk_exc.PinLocked:
            raise PinLocked(serial) from None
        except (pk_exc.PinLenRange, pk_exc.PinInvalid):
            raise PinMalformed("the card refuses this PIN's form") from None
        self.guard.record_right(serial)
        try:
            yield session
        finally:
            session.close()

    def sign(self, request: SignRequest) -> dict[str, str]:
        """Sign ``request.payload`` on the card: the login answer or the consent CMS."""
        with self._lock:
            token = self._find(request.token_serial)
            serial = token_serial(token)
            if self.guard.reset_elsewhere(serial):
                self._module().reinitialize()
                token = self._find(serial)
            if self.pin_state(token).locked:
                raise PinLocked(serial)
            certificate_der = self._certificate_der(token, request.certificate_id)
            self.guard.claim_attempt(serial)
            try:
                with self._login(token, serial, request.pin) as session:
                    return self._sign_in(session, request, certificate_der)
            except (pk_exc.TokenNotPresent, pk_exc.DeviceRemoved, pk_exc.SessionClosed) as exc:
                raise CardAbsent(serial) from exc

    @staticmethod
    def _sign_in(session: Any, request: SignRequest, certificate_der: bytes) -> dict[str, str]:
        keys = list(
            session.get_objects(
                {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.ID: request.certificate_id}
            )
        )
        if not keys:
            raise CertificateNotFound(request.certificate_id.hex())
        key = keys[0]
        try:
            mechanisms = set(session.token.slot.get_mechanisms())
        except pk_exc.PKCS11Error:
            mechanisms = set()
        key_type = key.key_type
        if key_type == KeyType.EC:
            kind = "ec"
        elif key_type == KeyType.RSA:
            kind = "rsa"
        else:
            raise CertificateNotFound(request.certificate_id.hex())

        def sign(data: bytes) -> bytes:
            return sign_sha256(key, kind, mechanisms, data)

        certificate_b64 = base64.b64encode(certificate_der).decode("ascii")
        if request.kind == "login":
            signature = sign(request.payload)
            return {
                "signature_b64": base64.b64encode(signature).decode("ascii"),
                "certificate_der_b64": certificate_b64,
            }
        cms_der = build_signed_data(request.payload, certificate_der, kind, sign)
        return {
            "cms_b64": base64.b64encode(cms_der).decode("ascii"),
            "certificate_der_b64": certificate_b64,
        }


# DigestInfo of SHA-256 (RFC 8017 9.2 note 1): what CKM_RSA_PKCS needs in front of the hash.
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def sign_sha256(key: Any, kind: str, mechanisms: set[Any], data: bytes) -> bytes:
    """SHA-256 signature of ``data`` with ``key``: CKM_ECDSA_SHA256 (DER-encoded for the
    caller) or CKM_SHA256_RSA_PKCS; where the module offers only the raw mechanism (SoftHSM2
    2.6 has no CKM_ECDSA_SHA256; many card modules hash on the host), the service hashes and
    uses CKM_ECDSA or CKM_RSA_PKCS over the hash (the same signature)."""
    if kind == "ec":
        if Mechanism.ECDSA_SHA256 in mechanisms or Mechanism.ECDSA not in mechanisms:
            raw = key.sign(data, mechanism=Mechanism.ECDSA_SHA256)
        else:
            raw = key.sign(hashlib.sha256(data).digest(), mechanism=Mechanism.ECDSA)
        return bytes(encode_ecdsa_signature(raw))
    if Mechanism.SHA256_RSA_PKCS in mechanisms or Mechanism.RSA_PKCS not in mechanisms:
        return bytes(key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS))
    digest_info = _SHA256_DIGEST_INFO + hashlib.sha256(data).digest()
    return bytes(key.sign(digest_info, mechanism=Mechanism.RSA_PKCS))


def default_module() -> str:
    """The first existing module of :data:`DEFAULT_MODULES` (else the SoftHSM2 path)."""
    import os

    for path in DEFAULT_MODULES:
        if os.path.exists(path):
            return path
    return "/usr/lib/softhsm/libsofthsm2.so"
