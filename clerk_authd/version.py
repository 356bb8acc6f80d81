"""The installed distribution's version, read once from its metadata (so it cannot drift from ``pyproject.toml``).

It has its own module so that the Backend API client's user agent can name it without importing the package's
public face, which imports every ring.
"""

from importlib.metadata import version

__version__ = version("clerk_authd")
