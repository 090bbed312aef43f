"""A text input with a fuzzy suggestion list under it (owner, entity, tags pickers).

It knows nothing of the catalog: whoever creates it passes a ``suggest(query)`` callable that
returns suggestions (anything with ``value``, ``label`` and ``detail``). Typing filters, up/down
move through the list, enter (or tab on a highlighted suggestion) takes it. With ``multiple`` the
text is a comma-separated list and suggestions complete the last item.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar, Protocol

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from widgets.guard import Guarded


class Suggestion(Protocol):
    @property
    def value(self) -> str: ...

    @property
    def label(self) -> str: ...

    @property
    def detail(self) -> str: ...


Suggest = Callable[[str], Sequence[Suggestion]]
MAX_SHOWN = 8  # lines of suggestions under the input; the list scrolls for more


def split_items(text: str) -> list[str]:
    """The items of a comma-separated value, stripped, empty ones dropped."""
    return [part.strip() for part in text.split(",") if part.strip()]


class PickerInput(Guarded, Vertical):
    """``Input`` + ``OptionList``; the list shows only while the input has focus and text matches."""

    DEFAULT_CSS = """
    PickerInput { height: auto; }
    PickerInput > OptionList {
        display: none; max-height: 10; border: round $accent 50%; padding: 0; margin: 0 0 0 2;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    PickerInput.-open > OptionList { display: block; }
    """
    BINDINGS: ClassVar = [
        Binding("down", "move(1)", "Next suggestion", show=False, id="picker.down"),
        Binding("up", "move(-1)", "Previous suggestion", show=False, id="picker.up"),
        Binding("escape", "close", "Close list", id="picker.close"),
    ]

    def __init__(
        self,
        value: str,
        suggest: Suggest,
        *,
        multiple: bool = False,
        placeholder: str = "",
        disabled: bool = False,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id, disabled=disabled)
        self._value = value
        self._suggest = suggest
        self.multiple = multiple
        self._placeholder = placeholder
        self._shown: list[Suggestion] = []
        self._keep_closed = False  # set by accept(): the change it causes must not reopen the list

    def compose(self) -> ComposeResult:
        hint = self._placeholder or ("type to search, comma for more" if self.multiple else "type to search")
        yield Input(self._value, placeholder=hint)
        yield OptionList()

    @property
    def input(self) -> Input:
        return self.query_one(Input)

    @property
    def suggestions(self) -> list[Suggestion]:
        """What the list shows now (tests and screens may read it)."""
        return list(self._shown)

    # -- suggestions --------------------------------------------------------------------------
    def _query(self) -> str:
        text = self.input.value
        return text.rsplit(",", 1)[-1].strip() if self.multiple else text.strip()

    def _refresh_suggestions(self) -> None:
        query = self._query()
        found = list(self._suggest(query))
        if self.multiple:
            chosen = set(split_items(self.input.value)[:-1] if query else split_items(self.input.value))
            found = [s for s in found if s.value not in chosen]
        # Nothing to suggest once the text is exactly the one match.
        if len(found) == 1 and found[0].value == query:
            found = []
        self._shown = found
        options = self.query_one(OptionList)
        options.set_options(Option(_prompt(s)) for s in found)
        if found:
            options.highlighted = 0
        keep_closed, self._keep_closed = self._keep_closed, False
        self.set_class(bool(found) and self.input.has_focus and not keep_closed, "-open")

    @on(Input.Changed)
    def _typed(self) -> None:
        # Not stopped: the form above hears the change too.
        self._refresh_suggestions()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self._refresh_suggestions()

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        self.remove_class("-open")

    # -- keys ---------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # With the list closed these keys belong to the screen (esc goes back a page).
        if action in ("move", "close"):
            return self.has_class("-open")
        return True

    def action_close(self) -> None:
        self.remove_class("-open")

    def action_move(self, delta: int) -> None:
        options = self.query_one(OptionList)
        if not self._shown:
            return
        current = options.highlighted or 0
        options.highlighted = max(0, min(current + delta, len(self._shown) - 1))

    @on(Input.Submitted)
    def _enter(self, event: Input.Submitted) -> None:
        options = self.query_one(OptionList)
        if self.has_class("-open") and options.highlighted is not None:
            event.stop()
            self.accept(self._shown[options.highlighted].value)

    @on(OptionList.OptionSelected)
    def _clicked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.accept(self._shown[event.option_index].value)
        self.input.focus()

    def accept(self, value: str) -> None:
        """Put ``value`` in the input (as the last item when ``multiple``)."""
        if self.multiple:
            items = split_items(self.input.value)
            if self._query():
                items = items[:-1]
            self.input.value = ", ".join([*items, value]) + ", "
        else:
            self.input.value = value
        self.input.cursor_position = len(self.input.value)
        self._keep_closed = True
        self.remove_class("-open")


def _prompt(suggestion: Suggestion) -> Text:
    text = Text(suggestion.label, style="bold")
    # The detail already names the entity when there is one; else show the stored value.
    if suggestion.detail:
        text.append("  " + suggestion.detail, style="dim")
    elif suggestion.label != suggestion.value:
        text.append(f"  {suggestion.value}", style="italic dim")
    return text
