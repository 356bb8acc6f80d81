"""The settings ring: ``Settings`` (frozen, ``settings``), how each value is read (``values``), and
``load_settings`` (``loading``), which reports every problem at once.

These three names are the ring's interface; the rest of the package imports them from here.
"""

from clerk_authd.config.loading import load_settings, read_sources
from clerk_authd.config.settings import Settings

__all__ = ["Settings", "load_settings", "read_sources"]
