"""``clerk-authd dev-token``: a token signed with the development key that ``serve --dev`` publishes."""

from __future__ import annotations

import argparse
import sys

from clerk_authd.cli.exits import EXIT_CONFIG, EXIT_OK
from clerk_authd.config import read_sources
from clerk_authd.testing.dev_issuer import DEFAULT_AZP, dev_mint, dev_token, parse_claims, state_dir


def default_azp(authorized_parties: tuple[str, ...]) -> str:
    return authorized_parties[0] if authorized_parties else DEFAULT_AZP


def print_dev_token(args: argparse.Namespace) -> int:
    """``dev-token``: a token signed with the development key (the same key ``serve --dev`` publishes)."""
    source = read_sources(args.env_file)
    parties = tuple(p.strip() for p in source.get("CLERK_AUTHORIZED_PARTIES", "").split(",") if p.strip())
    try:
        claims = parse_claims(args.claims) if args.claims else None
        permissions = tuple(p.strip() for p in args.permissions.split(",") if p.strip())
        token = dev_token(
            dev_mint(state_dir(source)),
            user=args.user,
            session=args.session,
            org=args.org,
            role=args.role,
            permissions=permissions,
            ttl_s=args.ttl,
            azp=default_azp(parties),
            claims=claims,
        )
    except ValueError as exc:
        print(f"clerk-authd dev-token: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    print(token)
    return EXIT_OK
