"""`idp-console scaffold` sub-commands (filled in by the scaffold area)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Registers nothing yet."""
