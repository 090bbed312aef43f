"""What can go wrong with a history store, as typed errors whose message is one line for a user.

No message ever holds a password: errors are written here from the parts of the URL that are safe
to show (``postgresql://user@host:port/db``), never from a driver's text that might echo one.
"""

from __future__ import annotations


class HistoryError(Exception):
    """The history store cannot be used; the message says why in one line."""


class HistoryConfigError(HistoryError):
    """``history:`` in idp-console.yaml is not a store idp-console can open (bad URL, password in it)."""


class HistoryUnavailable(HistoryError):
    """The store does not answer now (server down, network, lock timeout); trying later may work."""


class HistoryAuthError(HistoryError):
    """The server answered and refused the credentials (wrong password, unknown role)."""


class HistorySchemaError(HistoryError):
    """The database was written by a newer idp-console (its schema version is above ours)."""
