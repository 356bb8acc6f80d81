"""Test support that ships with the package: a token mint and FakeClerk, a loopback Backend API stand-in.

Tests, ``clerk-authd serve --dev`` and the load tests all use these, so they are part of the package.
"""
