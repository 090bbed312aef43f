"""Issue 13: the scaffold run view's rules without a terminal (backends/scaffolder/wizard.py)."""

from __future__ import annotations

from pathlib import Path

from backends.scaffolder.actions import Services
from backends.scaffolder.events import StepLog, TaskFinished, TaskStarted
from backends.scaffolder.template import Template, TemplateLibrary, template_from_dict
from backends.scaffolder.wizard import (
    Move,
    RunCreated,
    RunProgress,
    RunRefused,
    ScaffoldWizard,
    Stage,
    run_updates,
)
from backends.workspace import load_demo_workspace

STEPS = {"publish": "Publish to git", "register": "Register in the catalog"}


def completed(*, dry_run: bool = False) -> TaskFinished:
    return TaskFinished("completed", {}, None, dry_run=dry_run, duration=1.0)


def test_a_completed_run_offers_to_deploy_the_component_it_registered() -> None:
    progress = RunProgress(dict(STEPS))
    progress.registered += ["location:default/orders-api", "component:default/orders-api"]
    outcome = progress.finish(completed(), "1.0 s")
    assert outcome.ok and outcome.status == "✔ Completed in 1.0 s"
    offer = progress.deploy_offer(["staging", "production"], readonly=False)
    assert offer is not None and (offer.service, offer.environment, offer.version) == (
        "orders-api",
        "staging",
        "",
    )
    assert progress.deploy_offer(["staging"], readonly=True) is None  # read-only: no change offered
    assert progress.deploy_offer([], readonly=False) is None  # nowhere to deploy


def test_no_deploy_offer_after_a_dry_run_or_without_a_component() -> None:
    dry = RunProgress(dict(STEPS), dry_run=True)
    dry.registered.append("component:default/orders-api")
    dry.finish(completed(dry_run=True), "1 s")
    assert dry.deploy_offer(["staging"], readonly=False) is None
    docs = RunProgress(dict(STEPS))
    docs.registered.append("component:default/handbook".replace("component", "system"))
    docs.finish(completed(), "1 s")
    assert docs.deploy_offer(["staging"], readonly=False) is None


def test_a_cancelled_run_says_so_and_names_the_step() -> None:
    progress = RunProgress(dict(STEPS))
    progress.cancel_requested = True
    failed = TaskFinished("failed", {}, "/tmp/kept", error="interrupted", failed_step="publish", duration=2)
    outcome = progress.finish(failed, "2 s")
    assert not outcome.ok and outcome.status == "✖ Cancelled at step 'Publish to git' after 2 s"
    assert outcome.lines == ("Step Publish to git failed:", "  interrupted", "Files kept in /tmp/kept")
    assert progress.retry_step() is None  # no task: nothing to retry from


def test_log_lines() -> None:
    progress = RunProgress(dict(STEPS))
    assert (
        progress.log_line(TaskStarted("t1", "template:x", [], True, "/w"))
        == "Task t1 (dry run, workspace /w)"
    )
    assert progress.log_line(StepLog("publish", "oops", "warning")) == "! [publish] oops"
    assert progress.refused(["bad"]).lines == ("Nothing was written. Problems:", "  • bad")
    assert not progress.running


# -- the wizard's state machine (ScaffoldWizard): pages, esc, keys, runs -------------------------


def two_pages(steps: list[dict[str, object]] | None = None, name: str = "two-pages") -> Template:
    return template_from_dict(
        {
            "apiVersion": "scaffolder.backstage.io/v1beta3",
            "kind": "Template",
            "metadata": {"name": name, "title": "Two pages"},
            "spec": {
                "type": "service",
                "parameters": [
                    {
                        "title": "Basics",
                        "required": ["name"],
                        "properties": {"name": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$"}},
                    },
                    {"title": "Extras", "properties": {"note": {"type": "string"}}},
                ],
                "steps": steps
                or [{"id": "say", "name": "Say", "action": "debug:log", "input": {"message": "hi"}}],
            },
        },
        Path("."),
        "test",
    )


def shown(wizard: ScaffoldWizard, move: Move) -> Move:
    """Do what the screen does with a move: show the stage it leads to."""
    stages = {Move.PAGE: Stage.FORM, Move.REVIEW: Stage.REVIEW, Move.PICK: Stage.PICK}
    wizard.stage = stages.get(move, wizard.stage)
    return move


def test_next_and_back_walk_the_pages_keep_answers_and_stop_on_an_invalid_page() -> None:
    wizard = ScaffoldWizard(load_demo_workspace())
    template = two_pages()
    problems, pending = wizard.templates_found(TemplateLibrary({"two-pages": template}, ["bad.yaml: broken"]))
    assert (problems, pending) == (["bad.yaml: broken"], None)
    assert wizard.templates_found(TemplateLibrary({"two-pages": template}, ["bad.yaml: broken"]))[0] == []
    assert wizard.find("Template:default/TWO-PAGES") is template  # a ref, any case

    assert shown(wizard, wizard.open(template, catalog=None)) is Move.PAGE
    assert wizard.crumb("scaffold") == "scaffold › two-pages › Basics"
    assert wizard.next() is Move.INVALID  # name is required
    assert wizard.invalid_note() == "Fix 1 field on this page to go on."
    assert wizard.answer("name", "Bad_Name", typed=True) is not None
    assert wizard.next() is Move.INVALID
    wizard.answer("name", "orders-api", typed=True)
    assert shown(wizard, wizard.next()) is Move.PAGE and wizard.page_index == 1
    assert shown(wizard, wizard.next()) is Move.REVIEW
    assert wizard.review_status() == "Ready to run Two pages. Enter runs it, d runs it dry."
    assert wizard.next() is Move.RUN  # ctrl+n on the review runs

    # esc: the review goes back to the last page, then page by page, then to the list.
    assert shown(wizard, wizard.back()) is Move.PAGE and wizard.page_index == 1
    assert shown(wizard, wizard.back()) is Move.PAGE and wizard.page_index == 0
    assert shown(wizard, wizard.back()) is Move.PICK
    assert wizard.back() is Move.PICKER_BACK
    # Opening the template again keeps what was answered.
    wizard.open(template, catalog=None)
    assert wizard.model is not None and wizard.model.answers["name"] == "orders-api"


def test_keys_follow_the_stage_and_a_run_cannot_be_left_while_it_goes() -> None:
    wizard = ScaffoldWizard(load_demo_workspace(), readonly=False)
    template = two_pages()
    wizard.templates_found(TemplateLibrary({"two-pages": template}))
    assert wizard.allows("focus_filter") and not wizard.allows("run") and wizard.allows("help")
    shown(wizard, wizard.open(template, catalog=None))
    wizard.stage = Stage.REVIEW
    assert wizard.begin_run(dry_run=False) == "Some answers are not valid yet: esc goes back to fix them."
    assert "(name)" in wizard.review_status()
    wizard.answer("name", "x", typed=True)  # not on a form page: ignored
    assert wizard.model is not None and "name" not in wizard.model.answers
    wizard.model.set_text("name", "orders-api")
    assert wizard.allows("run") and wizard.allows("dry_run") and not wizard.allows("retry")

    progress = wizard.begin_run(dry_run=True)
    assert isinstance(progress, RunProgress) and wizard.running
    wizard.stage = Stage.RUN
    assert wizard.run_title() == "Dry run of Two pages…"
    assert wizard.run_steps() == [("say", "Say", "debug:log")]
    assert wizard.crumb("scaffold") == "scaffold › two-pages › run"
    assert not wizard.allows("new") and not wizard.allows("cancel")  # no task yet to cancel
    assert wizard.back() is Move.BUSY
    assert wizard.begin_run(dry_run=False) is None  # not while one runs


def test_a_template_asked_for_before_the_list_loaded_opens_once_it_has() -> None:
    wizard = ScaffoldWizard(load_demo_workspace())
    assert wizard.wait_for("two-pages")
    _, pending = wizard.templates_found(TemplateLibrary({"two-pages": two_pages()}))
    assert pending == "two-pages" and not wizard.wait_for("two-pages")
    assert wizard.find("nothing-like-it") is None


def test_run_updates_say_created_then_the_events_or_refused_before_anything_ran() -> None:
    workspace = load_demo_workspace()
    wizard = ScaffoldWizard(workspace)
    updates = list(run_updates(workspace, Services(), two_pages(), {"name": "x"}, {}, dry_run=True))
    assert isinstance(updates[0], RunCreated)
    assert isinstance(updates[-1], TaskFinished) and updates[-1].status == "completed"
    refused = two_pages([{"id": "nope", "action": "no:such-action"}], name="refused")
    updates = list(run_updates(workspace, Services(), refused, {"name": "x"}, {}, dry_run=False))
    assert len(updates) == 1 and isinstance(updates[0], RunRefused)
    assert any("no:such-action" in problem for problem in updates[0].problems)
    wizard.close()  # nothing opened, nothing to close: no error
