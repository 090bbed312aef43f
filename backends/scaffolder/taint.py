"""Secret taint: which rendered values were computed from a secret.

Matching secret *values* in log text misses every transformation a template can apply
(``| reverse``, ``.replace()``, slicing, base64 …). Instead, the secrets — and any other value
marked sensitive — are handed to the renderer inside a :class:`TrackedMapping` that records each
read on a :class:`TaintTracker`. A render call that read one produces a tainted result: the action
still gets the real value, but every place a person can see (log lines, events, dry-run inputs,
outputs, error messages) shows :data:`WITHHELD` instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

WITHHELD = "[secret withheld]"


class TaintTracker:
    """Counts reads of sensitive values; compare ``reads`` before and after a render call."""

    __slots__ = ("reads",)

    def __init__(self) -> None:
        self.reads = 0

    def touch(self) -> None:
        self.reads += 1


class TrackedMapping(Mapping[str, Any]):
    """A read-only view of ``data`` whose sensitive keys report every read to ``tracker``.

    ``sensitive`` is the set of keys that taint (None: all of them). Enumerating the mapping
    (``items()``, ``| list``, ``| dump``, ``for k, v in …``) reads every value, so it taints when any
    key is sensitive. Deliberately not a ``dict`` subclass: ``json.dumps`` would read a dict's
    storage directly and bypass the tracking.
    """

    __slots__ = ("_data", "_sensitive", "_tracker")

    def __init__(
        self, data: Mapping[str, Any], tracker: TaintTracker, sensitive: Iterable[str] | None = None
    ) -> None:
        self._data = data
        self._tracker = tracker
        self._sensitive = None if sensitive is None else frozenset(sensitive)

    def _taints(self, key: object) -> bool:
        return self._sensitive is None or key in self._sensitive

    def __getitem__(self, key: str) -> Any:
        value = self._data[key]
        if self._taints(key):
            self._tracker.touch()
        return value

    def __iter__(self) -> Iterator[str]:
        if self._sensitive is None or self._sensitive & set(self._data):
            self._tracker.touch()
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __repr__(self) -> str:  # never the values, whoever prints it
        return f"TrackedMapping(keys={sorted(map(str, self._data))})"


def plain(value: Any) -> Any:
    """``value`` with every TrackedMapping turned back into a dict (for actions and JSON).

    Unwrapping reads through the view, so ``${{ secrets }}`` handed on whole taints like any read.
    """
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    return value


def leaves(value: Any) -> Iterator[Any]:
    """Every scalar inside a JSON-like value."""
    if isinstance(value, Mapping):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from leaves(item)
    else:
        yield value
