"""Slash commands over real HTTP: signed as Slack signs them, answered at once, results posted to
a loopback ``response_url``; identity, production confirmation, canary buttons and the audit."""

from __future__ import annotations

import time

from .conftest import JANE, LI, STRANGER, Chat, SlackClient


def text_of(post: dict) -> str:
    return str(post.get("text", ""))


def test_deploy_from_slack_posts_the_cli_lines_and_is_audited(chat: Chat) -> None:
    status, ack = chat.slack.command(
        "deploy payment-service --env staging --version v2.3.1", JANE, chat.receiver.url
    )
    assert status == 200 and ack is not None
    assert "deploy payment-service --env staging --version v2.3.1" in ack["text"]
    final = chat.receiver.wait_for(lambda p: "Deployment complete" in text_of(p))
    assert "✓ Running pre-deployment checks..." in final["text"]
    assert "✓ Updating Kubernetes deployment..." in final["text"]
    chat.server.wait_idle()
    # the history records the catalog User the Slack account maps to, not the server's account
    assert ("deploy", "payment-service", "staging", "jane.doe") in chat.history()
    rows = [(r.slack_user, r.user, r.channel, r.command, r.outcome) for r in chat.audit()]
    assert rows[-1] == (
        JANE,
        "jane.doe",
        "C0DEPLOYS",
        "deploy payment-service --env staging --version v2.3.1",
        "succeeded",
    )


def test_scale_and_status_and_help_from_slack(chat: Chat) -> None:
    assert (
        chat.slack.command("scale payment-service --replicas 5 --env staging", JANE, chat.receiver.url)[0]
        == 200
    )
    chat.receiver.wait_for(lambda p: "Scaled payment-service in staging" in text_of(p))
    chat.server.wait_idle()
    # status: also for a Slack user the catalog does not know
    status, _ = chat.slack.command("status payment-service --env staging", STRANGER, chat.receiver.url)
    assert status == 200
    post = chat.receiver.wait_for(lambda p: text_of(p).startswith("`status payment-service"))
    assert "5/5 ready" in post["text"]
    status, ack = chat.slack.command("help deploy", STRANGER, chat.receiver.url)
    assert status == 200 and ack is not None
    assert "deploy SERVICE --env ENV --version VERSION" in ack["text"]


def test_rollback_from_slack(chat: Chat) -> None:
    chat.slack.command("deploy payment-service --env staging --version v2.3.1", JANE, chat.receiver.url)
    chat.receiver.wait_for(lambda p: "Deployment complete" in text_of(p))
    chat.server.wait_idle()
    chat.slack.command("rollback payment-service --env staging", JANE, chat.receiver.url)
    post = chat.receiver.wait_for(lambda p: "Rollback complete" in text_of(p))
    assert "Rolled back payment-service: v2.3.1 → v2.3.0" in post["text"]


def test_bad_signature_and_expired_timestamp_are_401_and_run_nothing(chat: Chat) -> None:
    body = SlackClient.slash_body(
        "deploy payment-service --env staging --version v2.3.1", JANE, chat.receiver.url
    )
    assert chat.slack.post(body, secret="not-the-secret")[0] == 401
    old = str(int(time.time()) - 6 * 60)
    assert chat.slack.post(body, timestamp=old)[0] == 401
    assert chat.slack.post(body, timestamp="yesterday")[0] == 401
    assert chat.history() == [] and chat.audit() == []


def test_unknown_verb_or_flag_is_a_one_line_usage_reply_and_nothing_runs(chat: Chat) -> None:
    status, ack = chat.slack.command(
        "deploy payment-service --env staging --verison v2", JANE, chat.receiver.url
    )
    assert status == 200 and ack is not None
    assert ack["text"] == (
        "✗ deploy: unknown flag --verison; usage: deploy SERVICE --env ENV --version VERSION"
    )
    status, ack = chat.slack.command("destroy payment-service", JANE, chat.receiver.url)
    assert ack is not None and ack["text"].startswith("✗ unknown command 'destroy'; verbs: create-service")
    assert "\n" not in ack["text"]
    chat.server.wait_idle()
    assert chat.history() == []
    assert [r.outcome.split(":")[0] for r in chat.audit()] == ["usage", "usage"]


def test_a_retried_request_runs_once(chat: Chat) -> None:
    body = SlackClient.slash_body("scale payment-service --replicas 3 --env staging", JANE, chat.receiver.url)
    timestamp = str(int(time.time()))
    assert chat.slack.post(body, timestamp=timestamp)[0] == 200
    assert chat.slack.post(body, timestamp=timestamp, retry=1) == (200, None)
    assert chat.slack.post(body, timestamp=timestamp, retry=2) == (200, None)
    chat.receiver.wait_for(lambda p: "Scaled payment-service" in text_of(p))
    chat.server.wait_idle()
    assert [row[0] for row in chat.history()] == ["scale"]
    assert [r.outcome for r in chat.audit()] == ["started", "succeeded"]


def test_unreachable_response_url_the_action_still_completes_and_is_recorded(chat: Chat) -> None:
    dead = "http://127.0.0.1:9/nobody-listens"
    status, _ = chat.slack.command("scale payment-service --replicas 2 --env staging", JANE, dead)
    assert status == 200
    assert chat.server.wait_idle()
    assert [row[0] for row in chat.history()] == ["scale"]
    outcome = chat.audit()[-1].outcome
    assert outcome.startswith("succeeded") and "response_url not reached" in outcome


def test_unknown_slack_user_cannot_deploy(chat: Chat) -> None:
    status, ack = chat.slack.command(
        "deploy payment-service --env staging --version v2.3.1", STRANGER, chat.receiver.url
    )
    assert status == 200 and ack is not None
    assert ack["text"].startswith("✗ `deploy` needs a catalog User")
    chat.server.wait_idle()
    assert chat.history() == []
    assert chat.audit()[-1].outcome.startswith("refused:") and chat.audit()[-1].user is None


def test_production_needs_the_owning_group_and_a_confirmation_button(chat: Chat) -> None:
    line = "deploy payment-service --env production --version v2.3.1"
    # li.wei is known but not in team-payments: refused before any button
    _, ack = chat.slack.command(line, LI, chat.receiver.url)
    assert ack is not None and "not a member of team-payments" in ack["text"]
    # jane.doe is: a confirmation button, and nothing runs until she presses it
    _, ack = chat.slack.command(line, JANE, chat.receiver.url)
    assert ack is not None and "PRODUCTION" in ack["text"]
    buttons = {e["action_id"]: e["value"] for e in ack["blocks"][1]["elements"]}
    assert set(buttons) == {"confirm", "cancel"}
    assert chat.history() == []
    # someone else pressing it changes nothing
    _, answer = chat.slack.press("confirm", buttons["confirm"], LI, chat.receiver.url)
    assert answer is not None and answer["text"].startswith("✗ only <@U0JANEDOE>")
    assert chat.history() == []
    _, answer = chat.slack.press("confirm", buttons["confirm"], JANE, chat.receiver.url)
    assert answer is not None and "confirmed by jane.doe" in answer["text"]
    chat.receiver.wait_for(lambda p: "Deployment complete" in text_of(p))
    chat.server.wait_idle()
    assert ("deploy", "payment-service", "production", "jane.doe") in chat.history()
    assert [r.outcome.split(":")[0] for r in chat.audit()] == [
        "refused",
        "awaiting confirmation",
        "confirmed, started",
        "succeeded",
    ]


def test_paused_canary_offers_buttons_and_abort_rolls_back(chat: Chat) -> None:
    simulation = chat.server.session.simulation()
    simulation.set_error_rate("payment-service", "canary", None)  # no data: the analysis cannot decide
    chat.slack.command("deploy payment-service --env staging --version v2.3.1", JANE, chat.receiver.url)
    paused = chat.receiver.wait_for(lambda p: len(p.get("blocks") or []) > 1)
    buttons = {e["action_id"]: e["value"] for e in paused["blocks"][1]["elements"]}
    assert set(buttons) == {"canary_promote", "canary_abort", "canary_rollback"}
    # an unknown Slack user's press is refused
    _, answer = chat.slack.press("canary_abort", buttons["canary_abort"], "U0NOBODY", chat.receiver.url)
    assert answer is not None and answer["text"].startswith("✗")
    _, answer = chat.slack.press("canary_abort", buttons["canary_abort"], JANE, chat.receiver.url)
    assert answer is not None and answer["text"] == "abort by jane.doe in chat"
    final = chat.receiver.wait_for(lambda p: "Deployment aborted" in text_of(p))
    assert "back on v2.3.0" in final["text"]
    chat.server.wait_idle()
    assert chat.audit()[-1].outcome == "aborted"


def test_create_service_from_slack_runs_the_golden_path(chat: Chat) -> None:
    line = "create-service --name ledger-sync --language go --owner team-payments"
    status, ack = chat.slack.command(line, JANE, chat.receiver.url)
    assert status == 200 and ack is not None and line in ack["text"]
    final = chat.receiver.wait_for(lambda p: "ledger-sync created" in text_of(p))
    assert "✓" in final["text"]
    chat.server.wait_idle()
    assert chat.server.catalog.get("ledger-sync", default_kind="Component") is not None
    assert chat.audit()[-1].outcome == "completed"


def test_a_burst_of_twenty_commands_is_acknowledged_every_one(chat: Chat) -> None:
    # Every one answered and audited (bench/chatops.py times such bursts).
    from concurrent.futures import ThreadPoolExecutor

    def ask(n: int) -> int:
        body = SlackClient.slash_body(
            "status payment-service --env staging", STRANGER, f"{chat.receiver.url}?{n}"
        )
        return chat.slack.post(body)[0]

    with ThreadPoolExecutor(max_workers=20) as pool:
        assert list(pool.map(ask, range(20))) == [200] * 20
    assert chat.server.wait_idle()
    assert len(chat.audit()) == 40  # each: started, then answered


def test_a_stale_production_confirmation_does_nothing(chat: Chat) -> None:
    now = [1000.0]
    chat.server.clock = lambda: now[0]  # the server's own clock, not the wall clock
    _, ack = chat.slack.command("rollback payment-service --env production", JANE, chat.receiver.url)
    assert ack is not None
    buttons = {e["action_id"]: e["value"] for e in ack["blocks"][1]["elements"]}
    now[0] += 601  # ten minutes and a second later
    _, answer = chat.slack.press("confirm", buttons["confirm"], JANE, chat.receiver.url)
    assert answer is not None
    assert answer["text"] == "✗ expired: `rollback payment-service --env production`; ask again"
    chat.server.wait_idle()
    assert chat.history() == []
    assert chat.audit()[-1].outcome == "confirmation expired"
