"""Where the deploy history is kept: SQLite (default) or PostgreSQL, same schema, append-only.

The deploy area's API is :class:`backends.deploy.history.DeployHistory` (opened with
:func:`backends.deploy.history.open_history`); this package holds what sits under it: the stores
(:mod:`.store`, :mod:`.postgres`), the schema and its migrations (:mod:`.schema`), the ``history:``
setting (:mod:`.url`), the spool that keeps a running deploy's writes through an outage
(:mod:`.spool`) and the copy from SQLite to PostgreSQL (:mod:`.migrate`).
"""

from backends.history.errors import (
    HistoryAuthError,
    HistoryConfigError,
    HistoryError,
    HistorySchemaError,
    HistoryUnavailable,
)

__all__ = [
    "HistoryAuthError",
    "HistoryConfigError",
    "HistoryError",
    "HistorySchemaError",
    "HistoryUnavailable",
]
