"""Strict decoding of a compact JWS (``header.payload.signature``) without verifying it.

Clerk decodes loosely; hostile input is refused here with Clerk's ``token-invalid`` reason instead
(jwt-attacks §1): bounded size, canonical base64url with no padding, and strict JSON objects (no duplicate
members, no ``NaN``/``Infinity``, valid UTF-8 without BOM or lone surrogates, bounded nesting).
Used by verification and by token classification. ``decode_jwt_loosely`` is Clerk's own lenient ``decodeJwt``, for
the decisions Clerk takes on it before anything is verified (which session cookie to trust) and for Clerk's reason
when a token refused here would be refused by Clerk too.
"""

from __future__ import annotations

import binascii
import json
import re
import string
from dataclasses import dataclass
from typing import Any, Final

import orjson

from clerk_authd.errors import TokenVerificationError
from clerk_authd.reasons import Reason

MAX_TOKEN_LENGTH: Final = 16 * 1024
MAX_HEADER_SEGMENT: Final = 1024
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_B64URL_VALUES: Final = {
    char: value for value, char in enumerate(string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_")
}
#: the low bits of the last character that carry no data, by the segment's length modulo 4
_UNUSED_BITS: Final = {0: 0, 2: 0b1111, 3: 0b11}
_TO_STANDARD: Final = bytes.maketrans(b"-_", b"+/")
_JWT_SHAPE = re.compile(r"^[a-zA-Z0-9\-_]+\.[a-zA-Z0-9\-_]+\.[a-zA-Z0-9\-_]+$")

MSG_NOT_THREE_PARTS: Final = "Invalid JWT form. A JWT consists of three parts separated by dots."
MSG_UNDECODABLE: Final = "Invalid JWT form. The header, payload, or signature could not be decoded."


@dataclass(frozen=True, slots=True)
class DecodedJwt:
    """The parts of a compact JWS, decoded but **not** verified."""

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes


def looks_like_jwt(token: str) -> bool:
    """Clerk's JWT regex: three non-empty base64url-alphabet segments (used to classify tokens)."""
    return _JWT_SHAPE.match(token) is not None


def b64url_decode(segment: str) -> bytes:
    """Decode canonical, unpadded base64url; anything else raises ``ValueError``.

    Canonical means the bits the last character carries beyond the data are zero (the 2 low bits of a final
    group of 3 characters, the 4 low bits of one of 2), which is exactly when re-encoding gives the segment back;
    checking those bits instead of re-encoding keeps a miss's three segments cheap.
    """
    size = len(segment)
    if not _B64URL.fullmatch(segment) or size % 4 == 1:
        raise ValueError("not canonical base64url")
    unused = _UNUSED_BITS[size % 4]
    if unused and _B64URL_VALUES[segment[-1]] & unused:
        raise ValueError("non-canonical trailing bits")
    return binascii.a2b_base64(segment.encode("ascii").translate(_TO_STANDARD) + b"=" * (-size % 4))


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate member {key!r}")
        out[key] = value
    return out


#: the second pass of ``strict_json_object``, built once (``json.loads`` with a hook builds a decoder per call)
_DUPLICATE_FINDER: Final = json.JSONDecoder(object_pairs_hook=_reject_duplicates)


def strict_json_object(raw: bytes) -> dict[str, Any]:
    """Parse ``raw`` as one JSON object; duplicates, NaN, bad UTF-8 and deep nesting raise ``ValueError``."""
    parsed = orjson.loads(raw)  # rejects NaN/Infinity, invalid UTF-8, lone surrogates, BOM, deep nesting
    if not isinstance(parsed, dict):
        raise ValueError("not a JSON object")
    try:
        # orjson keeps the last of duplicate members silently; this second pass only looks for them. orjson
        # accepted the bytes, so they are UTF-8 without a BOM: what json.loads would have detected.
        _DUPLICATE_FINDER.decode(raw.decode("utf-8"))
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc
    return parsed


def decode_jwt(token: str) -> DecodedJwt:
    """Split and decode ``token``; failures raise ``TokenVerificationError(token-invalid)`` like Clerk's."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenVerificationError(Reason.TOKEN_INVALID, MSG_UNDECODABLE)
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenVerificationError(Reason.TOKEN_INVALID, MSG_NOT_THREE_PARTS)
    header_segment, payload_segment, signature_segment = parts
    try:
        if len(header_segment) > MAX_HEADER_SEGMENT:
            raise ValueError("header too large")
        header = strict_json_object(b64url_decode(header_segment))
        payload = strict_json_object(b64url_decode(payload_segment))
        signature = b64url_decode(signature_segment)
    except (ValueError, orjson.JSONDecodeError, binascii.Error) as exc:
        raise TokenVerificationError(Reason.TOKEN_INVALID, MSG_UNDECODABLE) from exc
    return DecodedJwt(
        header=header,
        payload=payload,
        signing_input=f"{header_segment}.{payload_segment}".encode("ascii"),
        signature=signature,
    )


_B64URL_LOOSE = re.compile(r"([A-Za-z0-9_-]*)=*")


def b64url_decode_loosely(segment: str) -> bytes:
    """Clerk's ``base64url.parse(s, {loose: true})`` (rfc4648): any trailing ``=`` dropped, then canonical base64url
    (an empty segment is empty bytes); anything else raises ``ValueError``, as Clerk's parser throws."""
    match = _B64URL_LOOSE.fullmatch(segment)
    if match is None:
        raise ValueError("not base64url")
    return b64url_decode(match.group(1)) if match.group(1) else b""


def _js_json_parse(raw: bytes) -> Any:
    """``JSON.parse(new TextDecoder().decode(raw))``: invalid UTF-8 replaced, a leading BOM dropped, any JSON value
    (duplicate members: the last wins); anything else raises ``ValueError``."""
    text = raw.decode("utf-8", "replace").removeprefix("\ufeff")
    return orjson.loads(text)


def decode_jwt_loosely(token: str) -> DecodedJwt | None:
    """Clerk's own ``decodeJwt``, which is lenient: padded base64url, any JSON, an empty signature all decode.

    ``None`` where Clerk's fails, and where the header or payload is not a JSON object (Clerk would read members of
    a non-object, or throw reading them from ``null``). Clerk's choices that depend on it (which session cookie to
    trust, ``usesSuffixedCookies``) and its reason for a token our strict ``decode_jwt`` refuses read this; nothing
    is ever accepted on it.
    """
    parts = token.split(".")
    if len(parts) != 3 or len(token) > MAX_TOKEN_LENGTH:
        return None
    header_segment, payload_segment, signature_segment = parts
    try:
        header = _js_json_parse(b64url_decode_loosely(header_segment))
        payload = _js_json_parse(b64url_decode_loosely(payload_segment))
        signature = b64url_decode_loosely(signature_segment)
        signing_input = f"{header_segment}.{payload_segment}".encode("ascii")
    except (ValueError, binascii.Error):  # orjson.JSONDecodeError and UnicodeEncodeError are ValueErrors
        return None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        return None
    return DecodedJwt(header=header, payload=payload, signing_input=signing_input, signature=signature)


def peek_jwt(token: str) -> DecodedJwt | None:
    """``decode_jwt`` for callers that want only a hint (cookie choice, classification); ``None`` on failure."""
    try:
        return decode_jwt(token)
    except TokenVerificationError:
        return None
