"""Pick a service (fuzzy filter), an environment (showing what runs there now) and a version.

Plain data in — service names with what each environment runs, environment names with whether they
are production — and one message out, :class:`DeployForm.Submitted`, once all three are filled.
Whether the deploy makes sense (same version already running, who may deploy) is the screen's
and the engine's business, not the form's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from widgets.guard import Guarded

CHOSEN_MARK = "● "  # the chosen service and environment: a mark, not only a colour


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


class DeployForm(Guarded, Vertical):
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
    DeployForm #versions { height: auto; padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar = [
        # Tab on the service filter or list takes the highlighted service, as enter does: moving on
        # without a service chosen only led to "Choose a service first".
        Binding("tab", "tab", "Next field", show=False, id="deploy.form.tab"),
    ]

    class VersionsWanted(Message):
        """The chosen service or environment changed: the screen may look up the versions a deploy
        of that service to that environment can pick (``set_versions``); each environment may
        deploy from its own registry repository."""

        def __init__(self, service: str, environment: str | None) -> None:
            super().__init__()
            self.service = service
            self.environment = environment

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
        self.environment: str | None = None  # the highlighted environment, marked ●
        self.versions: list[str] = []  # the chosen service's registry tags, newest first
        self._filled = ""  # the version the form filled in itself (the newest), not one typed
        self._shown: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static("New deploy", classes="title")
        yield Input(placeholder="service — type to filter", id="service-filter")
        yield OptionList(id="services")
        yield Static("Environment", classes="title")
        yield OptionList(id="environments")
        yield Static("Version", classes="title")
        yield Input(placeholder="version (image tag), e.g. v2.3.1 — enter to confirm", id="version")
        yield Static("", id="versions")
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
        self.set_versions([])
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

    def offer(self, service: str, environment: str, version: str = "") -> bool:
        """All three filled in, focus on the version: enter asks to confirm. False if unknown."""
        if not self.preselect(service):
            return False
        ids = [env.name for env in self.environments]
        if environment in ids:
            self.query_one("#environments", OptionList).highlighted = ids.index(environment)
            self._environment_highlighted_at(ids.index(environment))
        version_input = self.query_one("#version", Input)
        version_input.value = version
        version_input.cursor_position = len(version)
        version_input.focus()
        return True

    def set_versions(self, versions: list[str]) -> None:
        """The chosen service's versions, newest first: listed under the field and completed as typed."""
        self.versions = list(versions)
        version_input = self.query_one("#version", Input)
        version_input.suggester = SuggestFromList(self.versions, case_sensitive=False) if versions else None
        shown = ", ".join(self.versions[:6]) + (" …" if len(self.versions) > 6 else "")
        self.query_one("#versions", Static).update(
            Text(f"in the registry, newest first: {shown}") if versions else ""
        )
        if not version_input.value or version_input.value == self._filled:
            # Empty, or still the newest of another list (the environment changed): the newest here.
            version_input.value = self._filled = versions[0] if versions else ""

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
        text = Text(f"{CHOSEN_MARK if chosen else '  '}{name:<28}", style="bold" if chosen else "")
        for env in self.environments:
            text.append(f"  {env.name}: {self.running.get((name, env.name), 'not deployed')}", style="dim")
        return text

    def _environment_prompt(self, env: EnvironmentChoice) -> Text:
        chosen = env.name == self.environment
        text = Text(f"{CHOSEN_MARK if chosen else '  '}{env.name:<14}", style="bold")
        text.append(f"runs {self.running.get((self.service or '', env.name), 'not deployed')}")
        if env.production:
            text.append("   production: typed confirmation", style="bold red")
        return text

    def _refresh_environments(self) -> None:
        options = self.query_one("#environments", OptionList)
        highlighted = options.highlighted
        options.clear_options()
        names = [env.name for env in self.environments]
        if self.environment not in names:
            self.environment = names[min(highlighted or 0, len(names) - 1)] if names else None
        options.add_options([Option(self._environment_prompt(env), id=env.name) for env in self.environments])
        if self.environment is not None:
            options.highlighted = names.index(self.environment)

    @on(OptionList.OptionHighlighted, "#environments")
    def _environment_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self._environment_highlighted_at(event.option_index)

    def _environment_highlighted_at(self, index: int) -> None:
        if not 0 <= index < len(self.environments) or self.environments[index].name == self.environment:
            return
        self.environment = self.environments[index].name
        if self.service is not None:
            self.post_message(self.VersionsWanted(self.service, self.environment))
        options = self.query_one("#environments", OptionList)
        for position, env in enumerate(self.environments):
            if position < options.option_count:
                options.replace_option_prompt_at_index(position, self._environment_prompt(env))

    def action_tab(self) -> None:
        focused = self.screen.focused
        services = self.query_one("#services", OptionList)
        if focused is self.query_one("#service-filter", Input) or focused is services:
            index = services.highlighted if focused is services else None
            shown = self._shown
            name = shown[index] if index is not None and index < len(shown) else (shown[0] if shown else None)
            if name is not None:
                self._choose(name)
                return
        self.screen.focus_next()

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
        changed = name != self.service
        if changed:
            self.set_versions([])
            self.query_one("#version", Input).value = ""
        self.service = name
        self.show_error("")
        self._refresh_services()
        self._refresh_environments()
        if changed:
            self.post_message(self.VersionsWanted(name, self.environment))
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
