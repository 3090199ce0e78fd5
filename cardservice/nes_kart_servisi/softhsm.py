"""SoftHSM2 tokens for tests and the demo (``demo-token``), and ``unlock`` (C_InitPIN as SO).

``demo-token`` makes a token directory with its own ``softhsm2.conf``, initialises a token
with ``softhsm2-util --init-token --free``, then imports each private key (PEM: PKCS#8, or
SEC1 / PKCS#1) with its certificate (PEM or DER) under one CKA_ID and a label, plus the public
key, as a real AKİS card holds them. The keys are private, sensitive and not extractable.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess  # noqa: S404 (softhsm2-util, a fixed program with a list of arguments)
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asn1crypto import keys as akeys
from asn1crypto import pem
from asn1crypto import x509 as ax509

SOFTHSM_MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
)


class DemoTokenError(RuntimeError):
    pass


def softhsm_module() -> str:
    for path in SOFTHSM_MODULES:
        if os.path.exists(path):
            return path
    return SOFTHSM_MODULES[0]


@dataclass
class DemoToken:
    conf: Path
    serial: str
    label: str
    pin: str
    so_pin: str
    module: str
    ids: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "conf": str(self.conf),
            "serial": self.serial,
            "label": self.label,
            "pin": self.pin,
            "so_pin": self.so_pin,
            "module": self.module,
            "ids": self.ids,
            "labels": self.labels,
        }

    def serve_command(self) -> str:
        return f"SOFTHSM2_CONF={self.conf} nes-kart-servisi serve --module {self.module}"


def _read(path: Path) -> tuple[str | None, bytes]:
    data = path.read_bytes()
    if pem.detect(data):
        kind, _headers, der = pem.unarmor(data)
        return kind, der
    return None, data


def load_private_key(path: Path) -> akeys.PrivateKeyInfo:
    kind, der = _read(path)
    if kind == "ENCRYPTED PRIVATE KEY":
        raise DemoTokenError(f"{path}: encrypted keys are not supported; export it unencrypted")
    try:
        if kind == "EC PRIVATE KEY":
            ec_key = akeys.ECPrivateKey.load(der)
            return akeys.PrivateKeyInfo.wrap(ec_key, "ec")
        if kind == "RSA PRIVATE KEY":
            return akeys.PrivateKeyInfo.wrap(akeys.RSAPrivateKey.load(der), "rsa")
        info = akeys.PrivateKeyInfo.load(der)
        info.native  # noqa: B018 (parse it all now: a broken file fails here, not on the token)
        return info
    except (ValueError, TypeError) as exc:
        raise DemoTokenError(f"{path}: not a PKCS#8, SEC1 or PKCS#1 private key") from exc


def load_certificate(path: Path) -> ax509.Certificate:
    _kind, der = _read(path)
    try:
        certificate = ax509.Certificate.load(der)
        certificate.native  # noqa: B018
    except (ValueError, TypeError) as exc:
        raise DemoTokenError(f"{path}: not an X.509 certificate (PEM or DER)") from exc
    return certificate


def _cka_id(certificate: ax509.Certificate) -> bytes:
    """The certificate's subject key identifier, else SHA-1 of its public key (what most card
    tools use, so that the key, the public key and the certificate share one CKA_ID)."""
    ski = certificate.key_identifier
    if ski:
        return bytes(ski)
    return hashlib.sha1(  # noqa: S324 (an identifier, not a security hash)
        certificate.public_key["public_key"].contents
    ).digest()


def _label(certificate: ax509.Certificate, index: int) -> str:
    common_name = certificate.subject.native.get("common_name")
    if isinstance(common_name, list):
        common_name = common_name[0] if common_name else None
    return str(common_name)[:60] if common_name else f"NES sertifika {index + 1}"


def _key_templates(
    info: akeys.PrivateKeyInfo, certificate: ax509.Certificate, cka_id: bytes, label: str
) -> tuple[dict[Any, Any], dict[Any, Any]]:
    from pkcs11 import Attribute, KeyType, ObjectClass
    from pkcs11.util.ec import decode_ec_public_key
    from pkcs11.util.rsa import decode_rsa_public_key

    algorithm = info["private_key_algorithm"]["algorithm"].native
    spki = certificate.public_key
    common = {Attribute.TOKEN: True, Attribute.ID: cka_id, Attribute.LABEL: label}
    private: dict[Any, Any] = {
        **common,
        Attribute.CLASS: ObjectClass.PRIVATE_KEY,
        Attribute.PRIVATE: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.SIGN: True,
    }
    public: dict[Any, Any] = {**common, Attribute.PRIVATE: False, Attribute.VERIFY: True}
    if algorithm == "ec":
        if spki["algorithm"]["algorithm"].native != "ec":
            raise DemoTokenError("the certificate's key is not the EC private key's")
        ec_key = info["private_key"].parsed
        private[Attribute.KEY_TYPE] = KeyType.EC
        private[Attribute.EC_PARAMS] = info["private_key_algorithm"]["parameters"].dump()
        private[Attribute.VALUE] = ec_key["private_key"].contents
        public.update(decode_ec_public_key(spki.dump()))
    elif algorithm == "rsa":
        if spki["algorithm"]["algorithm"].native != "rsa":
            raise DemoTokenError("the certificate's key is not the RSA private key's")
        rsa_key = info["private_key"].parsed
        from pkcs11.util import biginteger

        private[Attribute.KEY_TYPE] = KeyType.RSA
        for attribute, name in (
            (Attribute.MODULUS, "modulus"),
            (Attribute.PUBLIC_EXPONENT, "public_exponent"),
            (Attribute.PRIVATE_EXPONENT, "private_exponent"),
            (Attribute.PRIME_1, "prime1"),
            (Attribute.PRIME_2, "prime2"),
            (Attribute.EXPONENT_1, "exponent1"),
            (Attribute.EXPONENT_2, "exponent2"),
            (Attribute.COEFFICIENT, "coefficient"),
        ):
            private[attribute] = biginteger(rsa_key[name].native)
        public.update(decode_rsa_public_key(spki["public_key"].parsed.dump()))
        public[Attribute.KEY_TYPE] = KeyType.RSA
    else:
        raise DemoTokenError(f"unsupported key algorithm {algorithm!r} (EC or RSA only)")
    public[Attribute.CLASS] = ObjectClass.PUBLIC_KEY
    public.update(common)
    public[Attribute.PRIVATE] = False
    return private, public


def _matches(info: akeys.PrivateKeyInfo, certificate: ax509.Certificate) -> bool:
    """Whether the private key belongs to the certificate (compares the public parts)."""
    algorithm = info["private_key_algorithm"]["algorithm"].native
    spki = certificate.public_key
    if algorithm == "rsa":
        return bool(
            info["private_key"].parsed["modulus"].native
            == spki["public_key"].parsed["modulus"].native
        )
    if algorithm == "ec":
        ec_key = info["private_key"].parsed
        point = ec_key["public_key"].native if ec_key["public_key"].native is not None else None
        return point is None or point == spki["public_key"].native
    return False


def make_demo_token(
    directory: Path,
    pairs: list[tuple[Path, Path]],
    *,
    label: str = "AKIS-DEMO",
    pin: str = "123456",
    so_pin: str = "12345678",
    module: str | None = None,
    force: bool = False,
) -> DemoToken:
    """A fresh SoftHSM2 token in ``directory`` (``softhsm2.conf`` + ``tokens/``)."""
    if not pairs:
        raise DemoTokenError("give at least one --key FILE --cert FILE pair")
    util = shutil.which("softhsm2-util")
    if util is None:
        raise DemoTokenError("softhsm2-util not found: install SoftHSM2 (Debian: softhsm2)")
    module = module or softhsm_module()
    loaded = [(load_private_key(key), load_certificate(cert)) for key, cert in pairs]
    for (info, certificate), (key_path, _cert) in zip(loaded, pairs, strict=True):
        if not _matches(info, certificate):
            raise DemoTokenError(f"{key_path} is not the key of its certificate")
    directory = directory.resolve()
    conf = directory / "softhsm2.conf"
    tokens = directory / "tokens"
    if conf.exists() or (tokens.exists() and any(tokens.iterdir())):
        if not force:
            raise DemoTokenError(f"{directory} already holds a token (use --force to replace it)")
        shutil.rmtree(tokens, ignore_errors=True)
    tokens.mkdir(parents=True, exist_ok=True, mode=0o700)
    conf.write_text(
        f"directories.tokendir = {tokens}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n",
        encoding="utf-8",
    )
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    done = subprocess.run(  # noqa: S603
        [util, "--init-token", "--free", "--label", label, "--so-pin", so_pin, "--pin", pin],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        message = (done.stderr or done.stdout).replace(pin, "***").replace(so_pin, "***")
        raise DemoTokenError(f"softhsm2-util --init-token failed: {message.strip()}")
    # SoftHSM2 reads SOFTHSM2_CONF when the module is loaded: set it before pkcs11.lib().
    os.environ["SOFTHSM2_CONF"] = str(conf)
    import pkcs11
    from pkcs11 import Attribute
    from pkcs11.util.x509 import decode_x509_certificate

    lib = pkcs11.lib(module)
    token = lib.get_token(token_label=label)
    result = DemoToken(
        conf=conf,
        serial=token.serial.decode("ascii", "replace").strip(" \0"),
        label=label,
        pin=pin,
        so_pin=so_pin,
        module=module,
    )
    with token.open(rw=True, user_pin=pin) as session:
        for index, (info, certificate) in enumerate(loaded):
            cka_id = _cka_id(certificate)
            object_label = _label(certificate, index)
            private, public = _key_templates(info, certificate, cka_id, object_label)
            session.create_object(private)
            session.create_object(public)
            template = decode_x509_certificate(certificate.dump())
            template.update(
                {
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: False,
                    Attribute.ID: cka_id,
                    Attribute.LABEL: object_label,
                }
            )
            session.create_object(template)
            result.ids.append(cka_id.hex())
            result.labels.append(object_label)
    return result


def unlock_token(module: str, serial: str | None, label: str | None, puk: str, new_pin: str) -> str:
    """C_Login as SO with the PUK (SoftHSM2: the SO PIN), C_InitPIN(new PIN). Returns the
    token's serial. Raises :class:`DemoTokenError` with a message for a person."""
    import pkcs11
    from pkcs11 import TokenFlag
    from pkcs11 import exceptions as pk_exc

    try:
        lib = pkcs11.lib(module)
    except Exception as exc:
        raise DemoTokenError(f"cannot load the PKCS#11 module {module}: {exc}") from exc
    candidates = []
    for slot in lib.get_slots(token_present=True):
        try:
            token = slot.get_token()
        except pk_exc.PKCS11Error:
            continue
        if not token.flags & TokenFlag.TOKEN_INITIALIZED or not token.label.strip():
            continue
        token_serial = token.serial.decode("ascii", "replace").strip(" \0")
        if serial is not None and token_serial != serial:
            continue
        if label is not None and token.label.strip() != label:
            continue
        candidates.append((token, token_serial))
    if not candidates:
        raise DemoTokenError("no such card in the readers")
    if len(candidates) > 1:
        raise DemoTokenError("more than one card: name one with --serial")
    token, token_serial = candidates[0]
    try:
        with token.open(rw=True, so_pin=puk) as session:
            session.init_pin(new_pin)
    except pk_exc.PinIncorrect as exc:
        raise DemoTokenError("the PUK (SO PIN) is wrong") from exc
    except pk_exc.PinLocked as exc:
        raise DemoTokenError("the PUK is locked: the card must be replaced") from exc
    except (pk_exc.PinLenRange, pk_exc.PinInvalid) as exc:
        raise DemoTokenError("the card refuses the new PIN's length or form") from exc
    return token_serial
