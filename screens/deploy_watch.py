"""The deploy screen's watch view: headline, the decision banner, the canary steps, the rollout tree
and the event log, drawn from a :class:`RunState` (or just the tree when watching without a run).

A screen-level composite rather than a widget: it reads the screen's own model (``RunState``);
the pieces it arranges are the reusable widgets.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from backends.deploy.reducer import LogEntry
from screens.deploy_view import Clock, RunState
from widgets.canary_steps import CanarySteps
from widgets.event_log import EventLog
from widgets.guard import Guarded
from widgets.rollout_tree import RolloutTree, RolloutTreeData


class WatchView(Guarded, Vertical):
    DEFAULT_CSS = """
    WatchView #run-header { height: 1; padding: 0 1; text-style: bold; background: $panel; }
    WatchView #run-header.-failed { background: $error 40%; }
    WatchView #run-header.-succeeded { background: $success 30%; }
    WatchView #decision {
        height: auto; padding: 0 1; border: heavy $warning; color: $warning; text-style: bold; display: none;
    }
    WatchView #decision.-shown { display: block; }
    WatchView #offer { height: auto; padding: 0 1; border: round $success; text-style: bold; display: none; }
    WatchView #offer.-shown { display: block; }
    /* Why a run failed, wrapped: the headline and the log are one line each and cut it off. */
    WatchView #reason { height: auto; padding: 0 1; color: $text-error; display: none; }
    WatchView #reason.-shown { display: block; }
    WatchView #steps { border-bottom: solid $panel-lighten-2; }
    WatchView #tree-scroll { height: 2fr; min-height: 2; }
    /* On a small terminal the tree and the log share what is left instead of the log vanishing. */
    WatchView #log { height: 1fr; max-height: 10; min-height: 3; border-top: solid $panel-lighten-2; }
    """

    def compose(self) -> ComposeResult:
        yield Static("", id="run-header")
        yield Static("", id="decision")
        yield Static("", id="offer")
        yield Static("", id="reason")
        yield CanarySteps(id="steps")
        with VerticalScroll(id="tree-scroll"):
            yield RolloutTree(id="tree")
        yield EventLog(id="log")

    @property
    def rollout_tree(self) -> RolloutTree:
        return self.query_one("#tree", RolloutTree)

    def show_run(self, state: RunState) -> None:
        steps = self.query_one("#steps", CanarySteps)
        steps.display = True
        header = self.query_one("#run-header", Static)
        header.update(Text(state.headline()))
        header.set_class(state.finished and state.outcome != "succeeded", "-failed")
        header.set_class(state.outcome == "succeeded", "-succeeded")
        decision = self.query_one("#decision", Static)
        if state.needs_decision:
            # Prominent on purpose: the deploy is stopped until a person answers.
            decision.update(
                Text(
                    f"⚠ {state.pause_reason}\n"
                    "The analysis had no data, so it cannot pass on its own: "
                    "p promotes (accept and go on) · a aborts (roll back)"
                )
            )
        elif state.paused:
            decision.update(Text(f"‖ Paused: {state.pause_reason} — space resumes · p promotes · a aborts"))
        decision.set_class(state.paused, "-shown")
        reason = self.query_one("#reason", Static)
        failed = state.finished and state.outcome != "succeeded" and bool(state.reason)
        reason.update(Text(f"✖ {state.reason}") if failed else "")
        reason.set_class(failed, "-shown")
        steps.show(state.step_views(), state.highlighted_step, state.weight, state.actual_weight)

    def show_offer(self, text: str | None) -> None:
        """What comes next after a healthy run (the next environment), or nothing."""
        offer = self.query_one("#offer", Static)
        if offer.has_class("-shown") == bool(text) and str(offer.render()) == (text or ""):
            return
        offer.update(Text(text or ""))
        offer.set_class(bool(text), "-shown")
        # The banner takes lines from the log: keep its newest line (the outcome) in sight.
        log = self.query_one("#log", EventLog)
        self.call_after_refresh(log.scroll_end, animate=False)

    def show_watch_only(self, service: str, environment: str) -> None:
        self.query_one("#steps", CanarySteps).display = False
        header = self.query_one("#run-header", Static)
        header.remove_class("-failed", "-succeeded")
        header.update(
            Text(f"watching {service} · {environment} · live from the cluster (e: next environment)")
        )
        self.query_one("#decision", Static).remove_class("-shown")
        self.query_one("#reason", Static).remove_class("-shown")
        self.show_offer(None)

    def show_tree(self, data: RolloutTreeData) -> None:
        self.rollout_tree.show(data)

    # Not log(): that is Textual's logger on every widget, which Textual itself calls.
    def log_entry(self, entry: LogEntry, clock: Clock) -> None:
        self.query_one("#log", EventLog).add(clock.stamp(entry.at), entry.text, entry.level)

    def log_text(self) -> str:
        return "\n".join(self.query_one("#log", EventLog).lines_text)

    def clear_log(self) -> None:
        self.query_one("#log", EventLog).reset()

    def focus_tree(self) -> None:
        self.query_one("#tree-scroll").focus()
