"""The Clerk I/O ring: everything that waits on Clerk, and ``ClerkRuntime``, the composition root.

``backend_api.ClerkClient`` is the one door to Clerk's Backend API (aiohttp), ``tokens.verify_token`` the one
signature check (joserfc), ``keystore.KeyStore`` the JWKS kept fresh, ``session_verifier`` the cached verify (the
hot path's one home); ``authenticate.Authenticator`` runs Clerk's ``authenticateRequest`` through its stages
(``header_path``, ``cookie_path``, ``refresh``, ``handshake``, ``machine``). ``runtime.ClerkRuntime`` builds them
for one worker and returns a ``Verdict``. Imports no web framework.
"""
