"""Loading ``CLERK_JWT_KEY``: a PEM public key, or just its base64 body, as people paste it.

Clerk's own loader strips a fixed RSA-2048 ASN.1 prefix from the text (clerk-semantics §14.5, §23.13); we
parse the key properly instead, so any RSA size of at least 2048 bits with a sane exponent works.
"""

from __future__ import annotations

import base64
import binascii
import re

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

MIN_RSA_BITS = 2048

_BEGIN_END = re.compile(r"-----(BEGIN|END) (RSA )?PUBLIC KEY-----")


class PemKeyError(ValueError):
    """The text is not a usable RSA public key."""


def load_rsa_public_key(text: str) -> rsa.RSAPublicKey:
    """Parse a full PEM (SPKI or PKCS#1) or a bare base64 SPKI body; ``\\n`` escapes are accepted."""
    cleaned = text.strip().replace("\\n", "\n")
    if not cleaned:
        raise PemKeyError("empty key")
    try:
        if "-----BEGIN" in cleaned:
            key = load_pem_public_key(cleaned.encode("ascii"))
        else:
            body = "".join(_BEGIN_END.sub("", cleaned).split())
            key = load_der_public_key(base64.b64decode(body, validate=True))
    except (ValueError, TypeError, binascii.Error, UnicodeEncodeError) as exc:
        raise PemKeyError(f"not a PEM public key ({exc.__class__.__name__})") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise PemKeyError("not an RSA key: Clerk signs session tokens with RS256")
    check_rsa_strength(key)
    return key


def check_rsa_strength(key: rsa.RSAPublicKey) -> None:
    """Refuse keys that would make RS256 forgeable: under 2048 bits, or an even / tiny exponent."""
    numbers = key.public_numbers()
    if key.key_size < MIN_RSA_BITS:
        raise PemKeyError(f"RSA key of {key.key_size} bits; at least {MIN_RSA_BITS} are required")
    if numbers.e < 65537 or numbers.e % 2 == 0:
        raise PemKeyError(f"RSA public exponent {numbers.e} is not allowed (must be odd and >= 65537)")
