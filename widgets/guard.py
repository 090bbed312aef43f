"""An exception in our handlers, actions, watchers or timers never ends the session.

Textual ends the whole app on any exception raised in an ``on_*`` / ``@on`` handler, an
``action_*``, a ``watch_*`` or a timer callback, and stops the message loop of the widget it came
from — over SSH, a user's session gone. A class that mixes in :class:`Guarded` has each of those
methods it defines wrapped when the class is created (subclasses inherit that), and its timers'
and ``call_later`` callbacks wrapped when they are set: a failure goes to the app's one error path
(:class:`FailureReporter`: errors.log with the traceback and one toast) and the widget keeps
answering. An app without that path (a bare test app) gets Textual's behaviour unchanged.

KeyboardInterrupt, SystemExit and CancelledError are not ``Exception`` and pass untouched, as does
Textual's ``SkipAction`` (an action declining a key is not a failure).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

from textual.actions import SkipAction
from textual.message_pump import MessagePump, _MessagePumpMeta
from textual.timer import Timer

# The methods Textual calls for us: message handlers, actions, reactive watchers.
GUARDED_PREFIXES = ("on_", "_on_", "action_", "_action_", "watch_", "_watch_")

Result = TypeVar("Result")


@runtime_checkable
class FailureReporter(Protocol):
    """The app's one error path (console/errors.py): log the traceback, show one toast."""

    def report_failure(self, what: str, error: Exception) -> None: ...


def report(node: MessagePump, what: str, error: Exception) -> bool:
    """Hand ``error`` to the app's error path; False when there is none to take it."""
    try:
        app = node.app
    except Exception:  # no active app: nobody to tell, let Textual handle it
        return False
    if not isinstance(app, FailureReporter):
        return False
    app.report_failure(what, error)
    return True


def _describe(class_name: str, name: str) -> str:
    """What failed, in a toast: an action by its name (what the user asked for), else the method."""
    for prefix in ("_action_", "action_"):
        if name.startswith(prefix):
            return name.removeprefix(prefix).replace("_", " ")
    return f"{class_name}.{name}"


def _is_handler(name: str, value: object) -> bool:
    if not inspect.isfunction(value):
        return False
    # @on(...) handlers have any name: Textual marks them with this attribute (its metaclass reads
    # it to build the dispatch table, which is why the wrapping happens before that, below).
    return name.startswith(GUARDED_PREFIXES) or hasattr(value, "_textual_on")


async def _guarded_awaitable(node: MessagePump, what: str, awaitable: Awaitable[Result]) -> Result | None:
    try:
        return await awaitable
    except SkipAction:
        raise
    except Exception as error:
        if not report(node, what, error):
            raise
        return None


def guard_method(what: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` (of a MessagePump) with its exceptions reported instead of raised.

    functools.wraps keeps the signature (Textual counts parameters to decide what to pass) and the
    function's attributes (``@on`` selectors, ``@mutating`` marks)."""
    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def guarded_async(self: MessagePump, *args: Any, **kwargs: Any) -> Any:
            return await _guarded_awaitable(self, what, method(self, *args, **kwargs))

        return guarded_async

    @functools.wraps(method)
    def guarded(self: MessagePump, *args: Any, **kwargs: Any) -> Any:
        try:
            result = method(self, *args, **kwargs)
        except SkipAction:
            raise
        except Exception as error:
            if not report(self, what, error):
                raise
            return None
        # A plain method returning a coroutine (e.g. ``return self.run_action(...)``): its failure
        # happens when Textual awaits it, so guard that too.
        if inspect.iscoroutine(result):
            return _guarded_awaitable(self, what, result)
        return result

    return guarded


class _GuardingMeta(_MessagePumpMeta):
    """Wraps a class's handlers as it is created: before Textual's metaclass (which every widget
    has; Python allows a class one metaclass, so ours derives from it) files the ``@on`` handlers
    into its dispatch table, so the table holds the guarded ones."""

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any) -> type:
        for attr, value in list(namespace.items()):
            if _is_handler(attr, value) and not getattr(value, "_guarded", False):
                wrapped = guard_method(_describe(name, attr), value)
                wrapped._guarded = True  # type: ignore[attr-defined]
                namespace[attr] = wrapped
        return super().__new__(mcs, name, bases, namespace, **kwargs)


class Guarded(MessagePump, metaclass=_GuardingMeta):
    """Mix into every App, Screen and Widget of ours, first in the bases: ``class X(Guarded, Static)``.

    tests/console/test_error_path.py checks that every one of them does."""

    def _guard_callback(
        self, callback: Callable[..., Any], *args: Any, once: bool = False, **kwargs: Any
    ) -> Callable[[], Any]:
        """``callback(*args, **kwargs)`` reporting its failures (``once``: an interval tells the
        first one only)."""
        what = getattr(callback, "__qualname__", None) or repr(callback)
        if args or kwargs:
            callback = functools.partial(callback, *args, **kwargs)
        told = False

        @functools.wraps(callback)
        async def guarded(*args: Any, **kwargs: Any) -> Any:
            nonlocal told
            try:
                result = callback(*args, **kwargs)
                if inspect.isawaitable(result):
                    result = await result
                return result
            except Exception as error:
                if told:
                    self.log.error(f"{what} failed again", error)
                    return None
                if not report(self, what, error):
                    raise
                told = once
                return None

        return guarded

    def set_interval(
        self,
        interval: float,
        callback: Callable[[], Any] | None = None,
        *,
        name: str | None = None,
        repeat: int = 0,
        pause: bool = False,
    ) -> Timer:
        # A refresh that fails fails again at every tick: one toast, the rest in the log.
        if callback is not None:
            callback = self._guard_callback(callback, once=True)
        return super().set_interval(interval, callback, name=name, repeat=repeat, pause=pause)

    def call_later(self, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
        return super().call_later(self._guard_callback(callback, *args, **kwargs))

    def call_after_refresh(self, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
        return super().call_after_refresh(self._guard_callback(callback, *args, **kwargs))

    def call_next(self, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        # Textual's set_timer calls back through call_next: this guards timers too.
        super().call_next(self._guard_callback(callback, *args, **kwargs))


__all__ = ["GUARDED_PREFIXES", "FailureReporter", "Guarded", "guard_method", "report"]
