"""`idp-console deploy` sub-commands (filled in by the deploy area)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Registers nothing yet."""
