"""Pick a service (fuzzy filter), an environment (showing what runs there now) and a version.

Plain data in — service names with what each environment runs, environment names with whether they
are production — and one message out, :class:`DeployForm.Submitted`, once all three are filled.
Whether the deploy makes sense (same version already running, who may deploy) is the screen's
and the engine's business, not the form's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option


def fuzzy_filter(query: str, names: list[str]) -> list[str]:
    """Names containing the query (in order); when none does, close fuzzy matches by score."""
    from rapidfuzz import fuzz, process

    query = query.strip().lower()
    if not query:
        return names
    exact = [n for n in names if query in n.lower()]
    if exact:
        return exact  # a typed substring is what the user meant; fuzzy guesses would only crowd it
    scored = process.extract(query, names, scorer=fuzz.partial_ratio, limit=None, score_cutoff=75)
    return [name for name, _score, _index in scored]


@dataclass(frozen=True, slots=True)
class EnvironmentChoice:
    name: str
    production: bool = False


class DeployForm(Vertical):
    """Service filter + list, environment list, version input; enter walks from one to the next."""

    DEFAULT_CSS = """
    DeployForm .title { height: 1; padding: 0 1; text-style: bold; background: $panel; }
    DeployForm .hint { height: auto; padding: 0 1; color: $text-muted; }
    DeployForm #service-filter, DeployForm #version {
        height: 1; border: none; padding: 0 1; background: $boost;
    }
    DeployForm #service-filter:focus, DeployForm #version:focus { background: $surface-lighten-1; }
    DeployForm #services { height: 1fr; min-height: 5; }
    DeployForm #environments { height: auto; max-height: 8; }
    DeployForm #form-error { height: auto; padding: 0 1; color: $error; }
    """

    class Submitted(Message):
        def __init__(self, form: DeployForm, service: str, environment: str, version: str) -> None:
            super().__init__()
            self.form = form
            self.service = service
            self.environment = environment
            self.version = version

        @property
        def control(self) -> DeployForm:
            return self.form

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.services: list[str] = []
        self.environments: list[EnvironmentChoice] = []
        self.running: Mapping[tuple[str, str], str] = {}  # (service, env) → "v2.3.0 (4/4)"
        self.service: str | None = None
        self._shown: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static("New deploy", classes="title")
        yield Input(placeholder="service — type to filter", id="service-filter")
        yield OptionList(id="services")
        yield Static("Environment", classes="title")
        yield OptionList(id="environments")
        yield Static("Version", classes="title")
        yield Input(placeholder="version (image tag), e.g. v2.3.1 — enter to confirm", id="version")
        yield Static("", id="form-error")
        yield Static("tab moves on · enter on the version asks to confirm · esc back", classes="hint")

    # -- data in ------------------------------------------------------------------------------
    def set_data(
        self,
        services: list[str],
        environments: list[EnvironmentChoice],
        running: Mapping[tuple[str, str], str],
    ) -> None:
        """What can be chosen and what runs where; keeps the user's choices."""
        self.services, self.environments, self.running = services, environments, running
        if self.is_mounted:
            self._refresh_services()
            self._refresh_environments()

    def reset(self) -> None:
        """Empty form, focus on the service filter."""
        self.service = None
        self.query_one("#service-filter", Input).value = ""
        self.query_one("#version", Input).value = ""
        self.show_error("")
        self._refresh_services()
        self._refresh_environments()
        self.query_one("#service-filter", Input).focus()

    def preselect(self, service: str) -> bool:
        """Choose ``service`` (any case) and move on to the environment; False if unknown."""
        match = next((n for n in self.services if n.lower() == service.lower()), None)
        self.query_one("#service-filter", Input).value = match or service
        self._refresh_services()
        if match is None:
            self.show_error(f"{service}: not a deployable service in the catalog")
            self.query_one("#service-filter", Input).focus()
            return False
        self._choose(match)
        return True

    def show_error(self, text: str) -> None:
        self.query_one("#form-error", Static).update(Text(text))

    # -- drawing ------------------------------------------------------------------------------
    def _refresh_services(self) -> None:
        query = self.query_one("#service-filter", Input).value
        self._shown = fuzzy_filter(query, self.services)
        options = self.query_one("#services", OptionList)
        options.clear_options()
        options.add_options([Option(self._service_prompt(name), id=name) for name in self._shown])
        if self.service in self._shown:
            options.highlighted = self._shown.index(self.service)

    def _service_prompt(self, name: str) -> Text:
        chosen = name == self.service
        text = Text(f"{'● ' if chosen else '  '}{name:<28}", style="bold" if chosen else "")
        for env in self.environments:
            text.append(f"  {env.name}: {self.running.get((name, env.name), 'not deployed')}", style="dim")
        return text

    def _refresh_environments(self) -> None:
        options = self.query_one("#environments", OptionList)
        highlighted = options.highlighted
        options.clear_options()
        for env in self.environments:
            text = Text(f"{env.name:<14}", style="bold")
            text.append(f"runs {self.running.get((self.service or '', env.name), 'not deployed')}")
            if env.production:
                text.append("   production: typed confirmation", style="bold red")
            options.add_option(Option(text, id=env.name))
        if options.option_count:
            options.highlighted = min(highlighted or 0, options.option_count - 1)

    # -- the walk: filter → service → environment → version → submitted -----------------------
    @on(Input.Changed, "#service-filter")
    def _filter_changed(self) -> None:
        self._refresh_services()

    @on(Input.Submitted, "#service-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._shown:
            self._choose(self._shown[0])

    @on(OptionList.OptionSelected, "#services")
    def _service_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self._choose(event.option.id)

    def _choose(self, name: str) -> None:
        self.service = name
        self.show_error("")
        self._refresh_services()
        self._refresh_environments()
        self.query_one("#environments", OptionList).focus()

    @on(OptionList.OptionSelected, "#environments")
    def _environment_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.query_one("#version", Input).focus()

    @on(Input.Submitted, "#version")
    def _version_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit()

    def submit(self) -> None:
        """Post :class:`Submitted` when service, environment and version are all there."""
        options = self.query_one("#environments", OptionList)
        index = options.highlighted
        env = options.get_option_at_index(index).id if index is not None else None
        version = self.query_one("#version", Input).value.strip()
        if self.service is None:
            self.show_error("Choose a service first (type to filter, enter picks).")
            self.query_one("#service-filter", Input).focus()
        elif env is None:
            self.show_error("Choose an environment.")
            options.focus()
        elif not version:
            self.show_error("Type the version to deploy.")
        else:
            self.show_error("")
            self.post_message(self.Submitted(self, self.service, env, version))
