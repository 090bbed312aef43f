"""DORA performance bands and the platform's targets.

The DORA bands follow the clusters of the State of DevOps reports since 2023 (the "failed
deployment recovery time" edition), per service:

=========================  ==================  ==================  ==================  =============
figure                     elite               high                medium              low
=========================  ==================  ==================  ==================  =============
deployment frequency       ≥ 1 per day         ≥ 1 per week        ≥ 1 per month       less often
lead time for changes      < 1 day             < 1 week            < 1 month           ≥ 1 month
change failure rate        ≤ 5 %               ≤ 10 %              ≤ 15 %              > 15 %
failed-deploy recovery     < 1 hour            < 1 day             < 1 week            ≥ 1 week
=========================  ==================  ==================  ==================  =============

Deployment frequency is banded per service that deployed (an organisation of 50 services shipping
once a week each is not "elite" because it ships 7 times a day in total). The target of each DORA
figure is its elite threshold; the platform's own targets come from issue 12: > 80 % of teams deploy
through it, > 90 % of components come from golden paths, < 30 min from scaffold to production,
NPS > 40; every component has an owner that resolves, and ≥ 80 % have docs.
"""

from __future__ import annotations

HOUR = 3600.0
DAY = 24 * HOUR
WEEK = 7 * DAY
MONTH = 30 * DAY

TEAMS_TARGET = 0.80
GOLDEN_PATH_TARGET = 0.90
FIRST_DEPLOY_TARGET = 30 * 60.0
NPS_TARGET = 40.0
OWNERSHIP_TARGET = 1.0
DOCS_TARGET = 0.80


def frequency_band(deploys_per_day_per_service: float) -> str:
    if deploys_per_day_per_service >= 1:
        return "elite"
    if deploys_per_day_per_service * 7 >= 1:
        return "high"
    if deploys_per_day_per_service * 30 >= 1:
        return "medium"
    return "low"


def lead_time_band(seconds: float) -> str:
    return _duration_band(seconds, DAY, WEEK, MONTH)


def recovery_band(seconds: float) -> str:
    return _duration_band(seconds, HOUR, DAY, WEEK)


def failure_rate_band(rate: float) -> str:
    if rate <= 0.05:
        return "elite"
    if rate <= 0.10:
        return "high"
    if rate <= 0.15:
        return "medium"
    return "low"


def _duration_band(seconds: float, elite: float, high: float, medium: float) -> str:
    if seconds < elite:
        return "elite"
    if seconds < high:
        return "high"
    if seconds < medium:
        return "medium"
    return "low"


def duration_text(seconds: float | None) -> str:
    """``42 s``, ``18 min``, ``3.5 h``, ``2.1 d``."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < HOUR:
        return f"{seconds / 60:.0f} min"
    if seconds < DAY:
        return f"{seconds / HOUR:.1f} h"
    return f"{seconds / DAY:.1f} d"
