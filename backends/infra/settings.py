"""The ``infra:`` section of ``idp-console.yaml``: where the infra repository is, the sizes each
resource type comes in, the price table and the teams' budgets.

```yaml
infra:
  repo: ssh://git@git.acme.example/platform/infrastructure.git   # a path or any URL git reaches
  ref: main                      # what apply and reconcile apply
  path: infrastructure/          # <path>/<service>/resources.yaml; policies in policies/*.yaml
  environment: production        # where the resources are applied (default: the first production one)
  provisioner: statefulset       # or crossplane: databases and caches become claims
  sizes:                         # per resource type, each size's Kubernetes resources and defaults
    cache: {small: {cpu: "250m", memory: "256Mi", eviction: lru}, ...}
  prices: {cpu: 25, memory: 4, database: {small: 40}, cache: {small: 15}}   # per month
  budgets: {team-payments: 1500}                                             # per month
  forge: {type: github, project: platform/infrastructure}   # optional: change requests by REST API
```
Every key is checked when the workspace loads (one line with file and line, like every section).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

from backends.config_checks import ConfigError, ConfigPath, mapping, shown, text
from backends.git.forge import ForgeSettings, parse_forge_settings
from backends.infra.quantity import QuantityError, parse_quantity

INFRA_KEYS = frozenset(
    {"repo", "ref", "path", "environment", "provisioner", "sizes", "prices", "budgets", "forge"}
)
PROVISIONERS = ("statefulset", "crossplane")
RESOURCE_TYPES = ("database", "cache")
SIZE_QUANTITIES = ("cpu", "memory", "storage")
# What a size may also fill in for the file (the platform's defaults for that size).
SIZE_DEFAULTS = {"database": ("backups",), "cache": ("eviction",)}
PRICE_KEYS = frozenset({"cpu", "memory", *RESOURCE_TYPES})


@dataclass(frozen=True, slots=True)
class Size:
    """One size of a resource type: its Kubernetes resources and the defaults it fills in."""

    name: str
    cpu: str
    memory: str
    storage: str = ""
    defaults: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Prices:
    """Monthly prices: compute per core and per GiB, databases and caches per size."""

    cpu: float = 25.0
    memory: float = 4.0
    by_size: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


def _size(name: str, cpu: str, memory: str, storage: str = "", **defaults: str) -> Size:
    return Size(name, cpu, memory, storage, MappingProxyType(defaults))


DEFAULT_SIZES: Mapping[str, Mapping[str, Size]] = MappingProxyType(
    {
        "database": {
            "small": _size("small", "500m", "1Gi", "10Gi"),
            "medium": _size("medium", "2", "4Gi", "50Gi"),
            "large": _size("large", "4", "16Gi", "200Gi"),
        },
        "cache": {
            "small": _size("small", "250m", "256Mi"),
            "medium": _size("medium", "500m", "1Gi"),
            "large": _size("large", "2", "4Gi"),
        },
    }
)
DEFAULT_SIZE_PRICES: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "database": {"small": 40.0, "medium": 150.0, "large": 520.0},
        "cache": {"small": 15.0, "medium": 45.0, "large": 160.0},
    }
)


@dataclass(frozen=True, slots=True)
class InfraSettings:
    repo: str  # as written; ``{data_dir}`` is expanded by backends.infra.repo
    ref: str = "main"
    path: str = "infrastructure/"
    environment: str = ""  # "" → the first production environment
    provisioner: str = "statefulset"
    sizes: Mapping[str, Mapping[str, Size]] = field(default_factory=lambda: DEFAULT_SIZES)
    prices: Prices = field(default_factory=lambda: Prices(by_size=DEFAULT_SIZE_PRICES))
    budgets: Mapping[str, float] = field(default_factory=dict)
    # GitHub / GitLab: change requests are opened through its REST API (None: refs/pull on plain git).
    forge: ForgeSettings | None = None

    def size_names(self, kind: str) -> list[str]:
        """The sizes of a resource type, smallest first (as the config lists them)."""
        return list(self.sizes.get(kind, {}))


def _money(value: Any, path: ConfigPath) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or value != value:
        raise ConfigError(path, f"expected an amount per month (a number ≥ 0), got {shown(value)}")
    return float(value)


def _quantity(value: Any, path: ConfigPath) -> str:
    raw = text(value, path)
    try:
        parse_quantity(raw)
    except QuantityError as error:
        raise ConfigError(path, str(error)) from None
    return raw


def _sizes(value: Any) -> Mapping[str, Mapping[str, Size]]:
    if value is None:
        return DEFAULT_SIZES
    section = mapping(value, ("infra", "sizes"), RESOURCE_TYPES)
    sizes: dict[str, Mapping[str, Size]] = dict(DEFAULT_SIZES)
    for kind, table in section.items():
        path: ConfigPath = ("infra", "sizes", kind)
        entries: dict[str, Size] = {}
        for name, raw in mapping(table, path).items():
            here = (*path, str(name))
            allowed = {*SIZE_QUANTITIES, *SIZE_DEFAULTS[kind]}
            spec = mapping(raw, here, allowed)
            for needed in ("cpu", "memory"):
                if needed not in spec:
                    raise ConfigError(here, f"a size needs {needed!r}")
            defaults = {key: text(spec[key], (*here, key)) for key in SIZE_DEFAULTS[kind] if key in spec}
            entries[str(name)] = Size(
                str(name),
                _quantity(spec["cpu"], (*here, "cpu")),
                _quantity(spec["memory"], (*here, "memory")),
                _quantity(spec["storage"], (*here, "storage")) if "storage" in spec else "",
                MappingProxyType(defaults),
            )
        if not entries:
            raise ConfigError(path, "expected at least one size")
        sizes[str(kind)] = MappingProxyType(entries)
    return MappingProxyType(sizes)


def _prices(value: Any, sizes: Mapping[str, Mapping[str, Size]]) -> Prices:
    section = mapping(value if value is not None else {}, ("infra", "prices"), PRICE_KEYS)
    by_size: dict[str, Mapping[str, float]] = {}
    for kind in RESOURCE_TYPES:
        path: ConfigPath = ("infra", "prices", kind)
        table = mapping(section[kind], path) if kind in section else DEFAULT_SIZE_PRICES.get(kind, {})
        prices = {str(size): _money(price, (*path, str(size))) for size, price in table.items()}
        for size in sizes.get(kind, {}):
            if size not in prices:
                raise ConfigError(path, f"no price for the {kind} size {size!r}")
        by_size[kind] = MappingProxyType(prices)
    defaults = Prices()
    return Prices(
        cpu=_money(section["cpu"], ("infra", "prices", "cpu")) if "cpu" in section else defaults.cpu,
        memory=_money(section["memory"], ("infra", "prices", "memory"))
        if "memory" in section
        else defaults.memory,
        by_size=MappingProxyType(by_size),
    )


def parse_infra_settings(value: Any, root: Path) -> InfraSettings | None:
    """The ``infra:`` section (None when absent); raises :class:`ConfigError` naming the key."""
    if value is None:
        return None
    data = mapping(value, ("infra",), INFRA_KEYS)
    if not data.get("repo"):
        raise ConfigError(("infra",), "the infra section needs a 'repo' (a path or git URL)")
    repo = text(data["repo"], ("infra", "repo"))
    if "://" not in repo and "@" not in repo and not repo.startswith("{") and not Path(repo).is_absolute():
        repo = str((root / repo).resolve())
    provisioner = text(data.get("provisioner") or "statefulset", ("infra", "provisioner"))
    if provisioner not in PROVISIONERS:
        raise ConfigError(
            ("infra", "provisioner"),
            f"expected one of {', '.join(PROVISIONERS)}, got {shown(provisioner)}",
        )
    sizes = _sizes(data.get("sizes"))
    budgets = {
        str(team): _money(amount, ("infra", "budgets", str(team)))
        for team, amount in mapping(data.get("budgets") or {}, ("infra", "budgets")).items()
    }
    return InfraSettings(
        repo=repo,
        ref=text(data.get("ref") or "main", ("infra", "ref")),
        path=text(data.get("path") or "infrastructure/", ("infra", "path")),
        environment=text(data["environment"], ("infra", "environment")) if data.get("environment") else "",
        provisioner=provisioner,
        sizes=sizes,
        prices=_prices(data.get("prices"), sizes),
        budgets=MappingProxyType(budgets),
        forge=parse_forge_settings(data.get("forge"), ("infra", "forge")),
    )


def gib(quantity: str) -> Decimal:
    """A memory or storage quantity in GiB (for prices)."""
    return parse_quantity(quantity) / Decimal(2**30)
