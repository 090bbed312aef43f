"""One page of a form, drawn from field descriptions: label, control, help and inline error.

The widget takes plain field views (anything shaped like ``FieldView`` — the scaffolder's
``FormField`` is one) and posts ``SchemaForm.FieldChanged`` when the user changes a value; it never
validates. The screen feeds the answer to its model and hands back the recomputed fields with
``update_fields``: errors update in place, fields that appear or disappear (JSON-Schema
conditionals) are mounted or removed without touching the others, so focus and cursors survive.

Errors show once a field has been touched, or for every field after ``reveal_errors`` (the user
tried to go on) — a fresh page does not open covered in "is required".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Checkbox, Input, RadioButton, RadioSet, Select, SelectionList, Static, TextArea

from widgets.guard import Guarded
from widgets.picker_input import PickerInput, Suggestion
from widgets.repo_url_input import RepoUrlInput

PICKER_KINDS = frozenset({"entity", "entities", "tags"})
TEXT_KINDS = frozenset({"string", "number", "integer", "array", "object", "repo-url", "password", "secret"})
# (repo-url is text too: its widget joins host, owner and repo into ``host?owner=o&repo=r``)


class FieldView(Protocol):
    """What the form needs to know to draw one field."""

    @property
    def name(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def required(self) -> bool: ...
    @property
    def value(self) -> Any: ...
    @property
    def error(self) -> str | None: ...
    @property
    def widget(self) -> str | None: ...
    @property
    def help(self) -> str: ...
    @property
    def placeholder(self) -> str: ...
    @property
    def autofocus(self) -> bool: ...
    @property
    def readonly(self) -> bool: ...
    @property
    def hidden(self) -> bool: ...
    @property
    def choices(self) -> list[tuple[Any, str]]: ...
    @property
    def options(self) -> dict[str, Any]: ...


SuggestFor = Callable[[str, str], Sequence[Suggestion]]
"""``suggest(field_name, query)``: picker suggestions for one field."""


def as_text(kind: str, value: Any) -> str:
    """How a value is shown in a text control (the reverse of the model's coercion)."""
    if value is None:
        return ""
    if kind in ("array", "entities", "tags") and isinstance(value, list):
        return ", ".join(map(str, value))
    if kind == "object" and isinstance(value, Mapping):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def field_dom_id(name: str) -> str:
    """A DOM id for a field name (names may hold characters ids may not)."""
    return "field-" + re.sub(r"[^A-Za-z0-9_-]", "_", name)


class FieldTextArea(Guarded, TextArea):
    """A multi-line answer (``ui:widget: textarea``) where enter moves on, as in every other field.

    A description is nearly always one sentence: enter inserting a newline there surprised users
    (and put a stray newline in the answer). A line break is still one key away: ctrl+j.
    """

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.screen.focus_next()
            return
        if event.key == "ctrl+j":
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        await super()._on_key(event)


class FieldBox(Guarded, Vertical):
    """One field: title line, control, help line, error line."""

    DEFAULT_CSS = """
    FieldBox { height: auto; margin: 0 0 1 0; }
    FieldBox > .field--title { height: 1; text-style: bold; }
    FieldBox > .field--help { height: auto; color: $text-muted; padding: 0 0 0 1; }
    FieldBox > .field--error { height: auto; color: $error; padding: 0 0 0 1; display: none; }
    FieldBox.-invalid > .field--error { display: block; }
    FieldBox > Input, FieldBox > Select, FieldBox > PickerInput, FieldBox > TextArea { max-width: 100; }
    FieldBox > TextArea { height: 5; }
    FieldBox > RadioSet { width: auto; }
    FieldBox > SelectionList { height: auto; max-height: 10; }
    FieldBox > RadioSet { height: auto; }
    FieldBox > SelectionList { width: auto; min-width: 30; }
    """

    def __init__(self, view: FieldView, suggest: SuggestFor) -> None:
        super().__init__(id=field_dom_id(view.name))
        self.field_name = view.name
        self.kind = view.kind
        self._view = view
        self._suggest = suggest
        # What the model already knows: controls echo their initial value as a change on mount,
        # which must neither mark the field touched nor reach the model.
        self.last_value: Any = _initial(view)

    def compose(self) -> ComposeResult:
        view = self._view
        if view.kind != "boolean":
            yield Static(_title(view), classes="field--title")
        self.control = self._control(view)
        yield self.control
        help_text = _help(view)
        if help_text:
            yield Static(help_text, classes="field--help", markup=False)
        yield Static("", classes="field--error", markup=False)

    def _control(self, view: FieldView) -> Widget:
        disabled = view.readonly
        if view.kind in PICKER_KINDS:
            return PickerInput(
                as_text(view.kind, view.value),
                lambda query: self._suggest(view.name, query),
                multiple=view.kind != "entity",
                placeholder=view.placeholder,
                disabled=disabled,
            )
        if view.kind == "repo-url":
            return RepoUrlInput(
                as_text(view.kind, view.value),
                hosts=[str(h) for h in view.options.get("allowedHosts") or []],
                owners=[str(o) for o in view.options.get("allowedOwners") or []],
                disabled=disabled,
            )
        if view.kind == "text":
            area = FieldTextArea(as_text(view.kind, view.value), disabled=disabled, soft_wrap=True)
            area.show_line_numbers = False
            area.border_subtitle = "enter: next field · ctrl+j: new line"
            return area
        if view.kind == "boolean":
            return Checkbox(_title(view), bool(view.value), disabled=disabled)
        if view.kind == "enum" and view.widget == "radio":
            return RadioSet(
                *(RadioButton(label, value=value == view.value) for value, label in view.choices),
                disabled=disabled,
            )
        if view.kind == "enum":
            choices = view.choices
            current = view.value if any(v == view.value for v, _ in choices) else Select.NULL
            return Select(
                [(label, index) for index, (_, label) in enumerate(choices)],
                value=next((i for i, (v, _) in enumerate(choices) if v == current), Select.NULL),
                allow_blank=not view.required or current is Select.NULL,
                prompt=view.placeholder or "Choose…",
                disabled=disabled,
            )
        if view.kind == "multiselect":
            chosen = view.value if isinstance(view.value, list) else []
            return SelectionList[int](
                *((label, index, value in chosen) for index, (value, label) in enumerate(view.choices)),
                disabled=disabled,
            )
        # Everything else is typed text; the model converts it to the field's type.
        masked = view.kind in ("password", "secret")
        placeholder = view.placeholder or _placeholder(view.kind)
        return Input(
            as_text(view.kind, view.value), placeholder=placeholder, password=masked, disabled=disabled
        )

    def set_error(self, error: str | None, *, visible: bool) -> None:
        self.query_one(".field--error", Static).update(f"✖ {error}" if error else "")
        self.set_class(bool(error) and visible, "-invalid")

    def focus_control(self) -> None:
        for widget in self.query("Input, TextArea, Checkbox, RadioSet, Select, SelectionList"):
            if widget.focusable:
                widget.focus()
                return

    def value(self) -> tuple[Any, bool]:
        """The control's current value, and whether it is typed text for the model to coerce."""
        control = self.control
        if isinstance(control, RepoUrlInput):
            return control.value, True
        if isinstance(control, PickerInput):
            return control.input.value, True
        if isinstance(control, Input):
            return control.value, True
        if isinstance(control, TextArea):
            return control.text, True
        if isinstance(control, Checkbox):
            return control.value, False
        choices = self._view.choices
        if isinstance(control, RadioSet):
            index = control.pressed_index
            return (choices[index][0] if 0 <= index < len(choices) else None), False
        if isinstance(control, Select):
            chosen = control.value
            return (choices[chosen][0] if isinstance(chosen, int) else None), False
        if isinstance(control, SelectionList):
            return [choices[i][0] for i in sorted(control.selected)], False
        return None, False


class SchemaForm(Guarded, Vertical):
    """The fields of one page. ``show_page`` draws a page; ``update_fields`` follows answers."""

    DEFAULT_CSS = """
    SchemaForm { height: auto; padding: 0 1; }
    """

    class FieldChanged(Message):
        """The user changed ``name``; ``typed`` means ``value`` is text for the model to convert."""

        def __init__(self, form: SchemaForm, name: str, value: Any, typed: bool) -> None:
            super().__init__()
            self.form = form
            self.name = name
            self.value = value
            self.typed = typed

        @property
        def control(self) -> SchemaForm:
            return self.form

    def __init__(self, suggest: SuggestFor, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._suggest = suggest
        self._errors: dict[str, str] = {}
        self.touched: set[str] = set()
        self._revealed = False

    @property
    def boxes(self) -> list[FieldBox]:
        return list(self.query_children(FieldBox))

    @property
    def field_names(self) -> list[str]:
        return [box.field_name for box in self.boxes]

    async def show_page(self, fields: Sequence[FieldView]) -> None:
        """Replace every field with this page's (answers already typed elsewhere are kept)."""
        self._revealed = False
        await self.remove_children()
        await self.mount_all([FieldBox(f, self._suggest) for f in fields if not f.hidden])
        self._apply_errors(fields)
        self.focus_first(fields)

    async def update_fields(self, fields: Sequence[FieldView]) -> None:
        """Follow recomputed fields: new ones mounted in place, gone ones removed, errors refreshed."""
        wanted = [f for f in fields if not f.hidden]
        current = {box.field_name: box for box in self.boxes}
        names = {f.name for f in wanted}
        for name, shown in current.items():
            if name not in names or shown.kind != next(f.kind for f in wanted if f.name == name):
                await shown.remove()
        current = {box.field_name: box for box in self.boxes}
        previous: FieldBox | None = None
        for view in wanted:
            box = current.get(view.name)
            if box is None:
                box = FieldBox(view, self._suggest)
                if previous is not None:
                    await self.mount(box, after=previous)
                elif self.children:
                    await self.mount(box, before=0)
                else:
                    await self.mount(box)
            previous = box
        self._apply_errors(fields)

    def reveal_errors(self) -> None:
        """Show every error of the page (the user tried to leave it) and focus the first one."""
        self._revealed = True
        for box in self.boxes:
            box.set_error(self._errors.get(box.field_name), visible=True)
        for box in self.boxes:
            if box.field_name in self._errors:
                box.focus_control()
                break

    def focus_first(self, fields: Sequence[FieldView]) -> None:
        target = next((f.name for f in fields if f.autofocus and not f.hidden), None)
        for box in self.boxes:
            if target is None or box.field_name == target:
                box.focus_control()
                return

    def _apply_errors(self, fields: Sequence[FieldView]) -> None:
        self._errors = {f.name: f.error for f in fields if f.error}
        for box in self.boxes:
            visible = self._revealed or box.field_name in self.touched
            box.set_error(self._errors.get(box.field_name), visible=visible)

    # -- control events -----------------------------------------------------------------------
    def _changed(self, control: Widget) -> None:
        try:
            box = control.query_ancestor(FieldBox)
        except Exception:  # noqa: BLE001 - a control outside any field box is not ours
            return
        if not box.is_mounted:
            return
        value, typed = box.value()
        if value == box.last_value:
            return
        box.last_value = value
        self.touched.add(box.field_name)
        self.post_message(self.FieldChanged(self, box.field_name, value, typed))

    @on(Input.Changed)
    def _input(self, event: Input.Changed) -> None:
        self._changed(event.input)

    @on(Input.Submitted)
    def _enter(self, event: Input.Submitted) -> None:
        # Enter in a field moves on like tab; on the last field that lands on the form's buttons.
        event.stop()
        self.screen.focus_next()

    @on(TextArea.Changed)
    def _area(self, event: TextArea.Changed) -> None:
        self._changed(event.text_area)

    @on(Checkbox.Changed)
    def _checkbox(self, event: Checkbox.Changed) -> None:
        self._changed(event.checkbox)

    @on(RadioSet.Changed)
    def _radio(self, event: RadioSet.Changed) -> None:
        self._changed(event.radio_set)

    @on(Select.Changed)
    def _select(self, event: Select.Changed) -> None:
        self._changed(event.select)

    @on(SelectionList.SelectedChanged)
    def _selection(self, event: SelectionList.SelectedChanged) -> None:
        self._changed(event.selection_list)


def _initial(view: FieldView) -> Any:
    """The value ``FieldBox.value`` reports for an untouched control."""
    if view.kind in ("text", *TEXT_KINDS, *PICKER_KINDS):
        return as_text(view.kind, view.value)
    if view.kind == "boolean":
        return bool(view.value)
    if view.kind == "multiselect":
        chosen = view.value if isinstance(view.value, list) else []
        return [value for value, _ in view.choices if value in chosen]
    return view.value if any(value == view.value for value, _ in view.choices) else None


def _title(view: FieldView) -> Text:
    text = Text(view.title)
    if view.required:
        text.append(" *", style="bold red")
    if view.readonly:
        text.append("  (read-only)", style="dim")
    return text


def _help(view: FieldView) -> str:
    parts = [p for p in (view.description, view.help) if p]
    return " — ".join(dict.fromkeys(parts))


def _placeholder(kind: str) -> str:
    return {
        "array": "comma-separated values",
        "object": "JSON or YAML, e.g. {key: value}",
        "repo-url": "host?owner=OWNER&repo=REPO",
        "number": "a number",
        "integer": "a whole number",
    }.get(kind, "")
