"""Typed errors of the scaffolder: each carries enough context to say where it happened."""

from __future__ import annotations


class ScaffolderError(Exception):
    """Base class of every scaffolder error."""


class TemplateError(ScaffolderError):
    """A template file that cannot be read or is not a valid v1beta3 Template."""


class ExpressionError(ScaffolderError):
    """A ``${{ }}`` / ``{% %}`` expression that does not compile or fails while rendering."""


class InputError(ScaffolderError):
    """An action input that does not match the action's schema (or an impossible combination)."""


class PathEscapeError(ScaffolderError):
    """A rendered path that would land outside the task workspace."""


class LimitExceeded(ScaffolderError):
    """The task wrote more files or bytes than the configured caps allow."""


class ActionFailed(ScaffolderError):
    """An action ran and failed; the message is shown as the step's error."""


class PrecheckError(ScaffolderError):
    """The template was refused before any step ran; ``problems`` lists every issue found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("template check failed:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems
