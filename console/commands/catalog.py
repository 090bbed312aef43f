"""``idp-console catalog validate|list`` (implemented by the catalog backend)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    catalog = subparsers.add_parser("catalog", help="validate and list catalog entities")
    catalog.set_defaults(handler=lambda args: catalog.print_help() or 2)
