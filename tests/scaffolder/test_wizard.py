"""Issue 13: the scaffold run view's rules without a terminal (backends/scaffolder/wizard.py)."""

from __future__ import annotations

from backends.scaffolder.events import StepLog, TaskFinished, TaskStarted
from backends.scaffolder.wizard import RunProgress

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
