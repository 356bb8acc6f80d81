"""What goes on the wire for a header value, as Node writes it."""

import pytest

from clerk_authd.js.headers import node_wire


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        ("plain", b"plain"),
        ("caf\u00e9 \u00ff", b"caf\xe9 \xff"),
        ("\u263a beyond Latin-1", "\u263a".encode() + b" beyond Latin-1"),
    ],
)
def test_node_wire_puts_nodes_bytes_on_the_wire(value: str, wire: bytes) -> None:
    """What Sanic writes for ``node_wire(value)`` (UTF-8 with ``surrogateescape``) is Node's Latin-1; a character
    Node cannot write at all is left to UTF-8."""
    assert node_wire(value).encode("utf-8", "surrogateescape") == wire
