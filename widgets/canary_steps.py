"""The canary's steps: weight per step, the current one highlighted, the analysis under each, and
the traffic weight as a bar. Plain data in; the screen decides what each status means."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from widgets.guard import Guarded

STEP_ICONS: dict[str, str] = {
    "pending": "○",
    "running": "◐",
    "paused": "‖",
    "done": "✔",
    "failed": "✖",
    "skipped": "⤼",
}
STEP_STYLES: dict[str, str] = {
    "pending": "dim",
    "running": "bold yellow",
    "paused": "bold magenta",
    "done": "green",
    "failed": "bold red",
    "skipped": "dim",
}
CHECK_ICONS: dict[str, str] = {"passed": "✔", "failed": "✖", "inconclusive": "?"}
CHECK_STYLES: dict[str, str] = {"passed": "green", "failed": "bold red", "inconclusive": "bold yellow"}


@dataclass(frozen=True, slots=True)
class CheckView:
    name: str  # short, shown inline: "pods ready", "error rate 0.20%"
    verdict: str  # passed | failed | inconclusive
    detail: str  # the full sentence, shown under the step unless the check passed


@dataclass(frozen=True, slots=True)
class StepView:
    label: str  # "5%", "promote"
    status: str  # one of STEP_ICONS
    note: str = ""  # "bake 2 s", "1 canary / 4 stable pods"
    checks: tuple[CheckView, ...] = ()


def weight_bar(percent: float, width: int = 20) -> Text:
    """``██████░░░░`` for a 0–100 weight, always ``width`` cells."""
    filled = round(max(0.0, min(100.0, percent)) * width / 100)
    bar = Text("█" * filled, style="cyan")
    bar.append("░" * (width - filled), style="dim")
    return bar


class CanarySteps(Guarded, Static):
    """One line per step (▶ marks the current one) with its analysis; failures spelled out below."""

    DEFAULT_CSS = """
    CanarySteps { height: auto; width: auto; min-width: 100%; padding: 0 1; text-wrap: nowrap; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes)
        self.steps: tuple[StepView, ...] = ()
        self.current: int | None = None
        self.weight: float = 0.0
        self.actual: float | None = 0.0  # None while no canary pods serve

    def show(
        self, steps: tuple[StepView, ...], current: int | None, weight: float, actual: float | None
    ) -> None:
        self.steps, self.current, self.weight, self.actual = steps, current, weight, actual
        self.update(self.render_steps())

    def render_steps(self) -> Text:
        text = Text(no_wrap=True)
        text.append("Canary weight ", style="bold")
        text.append_text(weight_bar(self.weight))
        text.append(f" {self.weight:g}%", style="bold cyan")
        if self.actual is not None:
            text.append(f"  (pods give {self.actual:g}%)", style="dim")
        if not self.steps:
            text.append("\nNo steps: this run changes the stable Deployment directly.", style="dim italic")
        width = max((len(s.label) for s in self.steps), default=0)
        note_width = max((len(s.note) for s in self.steps), default=0)
        for index, step in enumerate(self.steps):
            current = index == self.current
            style = STEP_STYLES.get(step.status, "")
            text.append("\n")
            text.append("▶ " if current else "  ", style="bold" if current else "")
            text.append(f"{STEP_ICONS.get(step.status, '?')} ", style=style)
            text.append(f" {step.label:<{width}} ", style=f"{style} reverse" if current else style)
            text.append(f"  {step.note:<{note_width}}", style="dim")
            # Every check on the step's own line; the sentence only for those that did not pass.
            for check in step.checks:
                check_style = CHECK_STYLES.get(check.verdict, "")
                text.append(f"  {CHECK_ICONS.get(check.verdict, '?')} ", style=check_style)
                text.append(check.name, style="" if check.verdict == "passed" else check_style)
            for check in step.checks:
                if check.verdict != "passed":
                    text.append(f"\n       {check.detail}", style=CHECK_STYLES.get(check.verdict, ""))
        return text
