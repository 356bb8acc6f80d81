"""Test support that ships with the package: a token mint, FakeClerk (a loopback Backend API stand-in) and the
development issuer of ``serve --dev``.

Tests, ``clerk-authd serve --dev`` and the load tests all use these, so they are part of the package. Built on
the rules and the Backend API client only (an import-linter contract).
"""
