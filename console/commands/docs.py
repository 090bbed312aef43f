"""`idp-console docs` sub-commands (filled in by the docs area)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Registers nothing yet."""
