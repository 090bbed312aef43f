"""The one grammar: the issue's five lines and help parse into typed commands; bad input is one
line ending in the verb's usage; completion offers verbs, flags, services and environments."""

from __future__ import annotations

import pytest

from backends.commands.grammar import (
    CreateService,
    Deploy,
    Help,
    Rollback,
    Scale,
    Status,
    UsageError,
    complete,
    parse,
    render,
)


@pytest.mark.parametrize(
    ("line", "command"),
    [
        (
            "create-service --name order-service --language go --owner team-orders",
            CreateService("order-service", "go", "team-orders"),
        ),
        ("scale payment-service --replicas 5 --env staging", Scale("payment-service", 5, "staging")),
        ("rollback payment-service --env production", Rollback("payment-service", "production")),
        (
            "rollback payment-service --env production --to v2.3.0",
            Rollback("payment-service", "production", "v2.3.0"),
        ),
        ("status payment-service --env production", Status("payment-service", "production")),
        ("status payment-service", Status("payment-service")),
        (
            "deploy payment-service --env production --version v2.3.1",
            Deploy("payment-service", "production", "v2.3.1"),
        ),
        (
            "deploy payment-service --env=production --version=v2.3.1",
            Deploy("payment-service", "production", "v2.3.1"),
        ),
        ("/platform status payment-service", Status("payment-service")),
        ("help", Help()),
        ("help scale", Help("scale")),
    ],
)
def test_each_verb_parses_into_its_command(line: str, command: object) -> None:
    assert parse(line) == command
    assert parse(render(parse(line))) == command  # what the audit writes parses back the same


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "frobnicate x",
            "unknown command 'frobnicate'; verbs: create-service, scale, rollback, status, deploy, help",
        ),
        (
            "deploy payment-service --env staging --tag v1",
            "deploy: unknown flag --tag; usage: deploy SERVICE --env ENV --version VERSION",
        ),
        (
            "deploy payment-service --env staging --version",
            "deploy: --version needs a value; usage: deploy SERVICE --env ENV --version VERSION",
        ),
        (
            "deploy payment-service --env staging",
            "deploy: missing --version; usage: deploy SERVICE --env ENV --version VERSION",
        ),
        (
            "scale payment-service --replicas many --env staging",
            "scale: --replicas must be a whole number, not 'many'; "
            "usage: scale SERVICE --replicas N --env ENV",
        ),
        ("status a b", "status: unexpected 'b'; usage: status SERVICE [--env ENV]"),
        (
            "create-service --name x --language go",
            "create-service: missing --owner; "
            "usage: create-service --name NAME --language LANGUAGE --owner GROUP",
        ),
        ("deploy 'payment-service", "cannot read the command: No closing quotation"),
        ("", "no command; verbs: create-service, scale, rollback, status, deploy, help"),
    ],
)
def test_bad_input_is_one_line_with_the_usage(line: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(line)
    assert str(caught.value) == message


def test_completion_of_verbs_flags_services_and_environments() -> None:
    services, envs = ["payment-service", "payment-gateway", "checkout"], ["staging", "production"]
    assert complete("de", services, envs) == ["deploy"]
    assert complete("deploy pay", services, envs) == ["payment-gateway", "payment-service"]
    assert complete("deploy payment-service --", services, envs) == ["--env", "--version"]
    assert complete("deploy payment-service --env ", services, envs) == ["production", "staging"]
    assert complete("deploy payment-service --env staging ", services, envs) == ["--version"]
    assert complete("help sc", services, envs) == ["scale"]
