"""The rules ring: Clerk's decisions as pure functions and values, no I/O and no framework.

The publishable key and instance, compact JWT decoding, token types, keys, claims, identities and auth objects,
``has()``, the request view and its token carriers, organization sync, the handshake decision, the request state,
requirements and the verdict. Imports only ``js``, ``errors``, ``reasons`` (and, in ``keys``/``pem``, the crypto
libraries).
"""
