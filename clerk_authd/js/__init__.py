"""The platform ring: what Clerk's JavaScript gets from Node, the Fetch API and npm, reproduced exactly.

The WHATWG URL parser (``url``, ``host``, ``percent``, ``form``), Node's header joining (``headers``), npm
``cookie`` parsing (``cookies``) and ECMAScript's number, JSON and truthiness rules (``values``). Every decision
Clerk makes sees its input through these, so every decision here does too. Imports nothing of ours.
"""
