"""A throwaway test PKI (``qkdnet pki init DIR``): one CA, a certificate per KME and per SAE, and the TLS contexts.

Identity is the certificate's subject common name (CN): an SAE's CN is its SAE ID, a KME's CN is its KME ID.
KME certificates serve HTTPS (serverAuth, SANs ``localhost`` and ``127.0.0.1``) and also authenticate the KME
as a client of its peer KME (clientAuth); SAE certificates are client-only. Keys are ECDSA P-256. Private
keys are written with mode 0600 and never printed. This is a PKI for tests and demos: a deployment uses its
own CA.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import os
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from qkdnet.errors import InvalidParameter
from qkdnet.kms.keyfiles import private_dir, write_private

_VALIDITY_DAYS = 365
# TLS 1.2 suites: forward secret (ECDHE) and AEAD only; TLS 1.3's suites are all AEAD (RFC 8446 clause 9.1).
TLS12_AEAD_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!SHA1:!SHA256:!SHA384"
TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def harden(context: ssl.SSLContext, min_version: str = "1.2") -> ssl.SSLContext:
    """Restrict ``context`` to TLS ``min_version`` or later and, for TLS 1.2, to ECDHE with AEAD suites."""
    context.minimum_version = TLS_VERSIONS[min_version]
    context.set_ciphers(TLS12_AEAD_CIPHERS)
    return context


@dataclass(frozen=True)
class Credential:
    """A certificate and its private key, as PEM file paths (the key's path too stays out of reprs)."""

    cert: Path
    key: Path = field(repr=False)


@dataclass(frozen=True)
class PkiFiles:
    """The files ``init_pki`` wrote: the CA certificate and a credential per KME and SAE ID."""

    ca: Path
    credentials: dict[str, Credential]

    def __getitem__(self, entity_id: str) -> Credential:
        return self.credentials[entity_id]


def init_pki(
    directory: str | os.PathLike[str],
    *,
    kme_ids: Sequence[str],
    sae_ids: Sequence[str],
    validity_days: int = _VALIDITY_DAYS,
) -> PkiFiles:
    """Write ``ca.crt`` (and ``ca.key``) and ``ID.crt``/``ID.key`` for every KME and SAE into ``directory``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ids = [*kme_ids, *sae_ids]
    if len(set(ids)) != len(ids) or not all(ids):
        raise InvalidParameter(f"kme_ids, sae_ids: every ID must be non-empty and unique, got {ids}")
    for entity in ids:
        if not entity.replace("_", "").replace("-", "").replace(".", "").isalnum():
            raise InvalidParameter(f"kme_ids, sae_ids: {entity!r} is not a plain name (letters, digits, _ - .)")
    out = private_dir(directory)
    now = dt.datetime.now(dt.UTC)
    pem = serialization.Encoding.PEM
    private = serialization.PrivateFormat.PKCS8

    def name(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name("qkdnet test CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=validity_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    (out / "ca.crt").write_bytes(ca_cert.public_bytes(pem))
    write_private(out / "ca.key", ca_key.private_bytes(pem, private, serialization.NoEncryption()))
    credentials = {}
    for entity in ids:
        is_kme = entity in kme_ids
        key = ec.generate_private_key(ec.SECP256R1())
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH] + ([ExtendedKeyUsageOID.SERVER_AUTH] if is_kme else [])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(entity))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=validity_days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        )
        if is_kme:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
        cert = builder.sign(ca_key, hashes.SHA256())
        credential = Credential(out / f"{entity}.crt", out / f"{entity}.key")
        credential.cert.write_bytes(cert.public_bytes(pem))
        write_private(credential.key, key.private_bytes(pem, private, serialization.NoEncryption()))
        credentials[entity] = credential
    return PkiFiles(out / "ca.crt", credentials)


@functools.lru_cache(maxsize=1024)
def common_name(cert_der: bytes) -> str | None:
    """The subject CN of a DER certificate (the SAE or KME ID), or None if it has not exactly one."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        names = x509.load_der_x509_certificate(cert_der).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError:
        return None
    if len(names) != 1 or not isinstance(names[0].value, str):
        return None
    return names[0].value


def server_context(cert: Path, key: Path, ca: Path) -> ssl.SSLContext:
    """TLS for a KME's HTTPS service: its certificate, and client certificates required from ``ca``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(ca))
    context.load_cert_chain(str(cert), str(key))
    context.verify_mode = ssl.CERT_REQUIRED
    return harden(context)


def client_context(cert: Path, key: Path, ca: Path) -> ssl.SSLContext:
    """TLS for a client (an SAE, or a KME calling its peer): verify the server by ``ca``, present ``cert``."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca))
    context.load_cert_chain(str(cert), str(key))
    return harden(context)


__all__ = ["Credential", "PkiFiles", "client_context", "common_name", "harden", "init_pki", "server_context"]
