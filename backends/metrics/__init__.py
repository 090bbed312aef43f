"""The platform's scorecard: DORA, adoption, quality and satisfaction, computed in SQL.

UI-free; the ``metrics`` / ``feedback`` commands and the scorecard screen are its faces::

    scope = resolve_scope(catalog, team="team-payments")   # or service="payment-service", or the org
    card = compute_scorecard(history, catalog, scope, window_days=30, now=time.time(),
                             production=production_environments(workspace))
    for figure in card.figures:   # value, display, numerator/denominator, universe, target, band,
        ...                       # trend (weekly), ids (the deploys behind it), details
    drilldown(history, figure.ids) -> list[DeployRow]
    record_feedback(history, user, score, comment)     # 0–10 → NPS per quarter

Definitions: ``queries.py`` (deploy figures) and ``bands.py`` (DORA bands and targets).
"""

from backends.metrics.model import (
    WINDOWS,
    DeployRow,
    Figure,
    MetricsError,
    Scope,
    Scorecard,
    parse_window,
    sparkline,
)
from backends.metrics.scorecard import (
    compute_scorecard,
    drilldown,
    production_environments,
    quarters,
    resolve_scope,
)
from backends.metrics.store import open_store, record_feedback, record_scaffold

__all__ = [
    "WINDOWS",
    "DeployRow",
    "Figure",
    "MetricsError",
    "Scope",
    "Scorecard",
    "compute_scorecard",
    "drilldown",
    "open_store",
    "parse_window",
    "production_environments",
    "quarters",
    "record_feedback",
    "record_scaffold",
    "resolve_scope",
    "sparkline",
]
