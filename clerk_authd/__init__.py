"""clerk_authd: decides who a request is and what it may do, exactly as Clerk's SDK does."""

__version__ = "0.1.0"
