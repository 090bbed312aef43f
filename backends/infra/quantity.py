"""Kubernetes resource quantities (``500m``, ``512Mi``, ``1.5``, ``2e3``), parsed as Kubernetes parses them.

The grammar is the API server's (``k8s.io/apimachinery/pkg/api/resource``)::

    <quantity> ::= <signedNumber><suffix>
    <suffix>   ::= Ki | Mi | Gi | Ti | Pi | Ei | n | u | m | "" | k | M | G | T | P | E | <decimalExponent>

A string outside it is what ``kubectl apply`` would answer with "quantities must match the regular
expression": refused here with the same words, before anything reaches a cluster.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?"
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
GIB = Decimal(2**30)


class QuantityError(ValueError):
    """Not a Kubernetes quantity (the message says why, as the API server would)."""


def parse_quantity(text: str) -> Decimal:
    """The value of a quantity in base units (cores, bytes); negatives are refused (no resource
    request may be below zero)."""
    match = _QUANTITY.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None or text != text.strip():
        raise QuantityError(f'{text!r} is not a Kubernetes quantity (e.g. "500m", "2", "512Mi", "1Gi")')
    try:
        number = Decimal(match["number"])
    except InvalidOperation as error:  # pragma: no cover - the regular expression admits only numbers
        raise QuantityError(f"{text!r} is not a Kubernetes quantity") from error
    if number < 0:
        raise QuantityError(f"{text!r}: a resource quantity cannot be negative")
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number.scaleb(_DECIMAL[suffix])
    if suffix:
        return number.scaleb(int(suffix[1:]))
    return number
