"""The exit codes every subcommand shares: 0 success, 1 a check failed, 2 bad configuration or usage."""

from __future__ import annotations

from typing import Final

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_CONFIG: Final = 2
