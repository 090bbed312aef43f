"""A small, realistic corpus for ranking tests: entities, docs written to disk, templates."""

from __future__ import annotations

from pathlib import Path

from backends.catalog.model import Entity, SourcePosition
from tests.docs.helpers import write_files

ENTITIES = [
    (
        "Component",
        "payment-service",
        "Payment Service",
        "Authorises, captures and settles card payments.",
        ["python", "grpc", "pci"],
        "team-payments",
    ),
    (
        "Component",
        "invoice-service",
        "Invoice Service",
        "Generates invoices and credit notes as PDF.",
        ["java"],
        "team-payments",
    ),
    (
        "Component",
        "refund-worker",
        "Refund Worker",
        "Processes refund requests from the payments queue.",
        ["python", "kafka"],
        "team-payments",
    ),
    (
        "Component",
        "ledger-service",
        "Ledger Service",
        "Double-entry ledger of every money movement.",
        ["go", "pci"],
        "team-payments",
    ),
    (
        "Component",
        "fraud-scoring",
        "Fraud Scoring",
        "Scores each payment attempt for fraud risk.",
        ["python", "ml"],
        "team-payments",
    ),
    ("API", "payment-api", "Payment API", "Create, capture and refund payments.", ["rest"], "team-payments"),
    (
        "Resource",
        "payments-db",
        "Payments database",
        "PostgreSQL cluster holding payment intents.",
        ["postgres"],
        "team-payments",
    ),
    (
        "Component",
        "checkout-web",
        "Checkout Web",
        "The web checkout where customers pay for their cart.",
        ["typescript"],
        "team-checkout",
    ),
    (
        "Component",
        "cart-service",
        "Cart Service",
        "Keeps shopping carts and applies prices.",
        ["go"],
        "team-checkout",
    ),
    (
        "Component",
        "auth-service",
        "Auth Service",
        "Issues tokens; OAuth and SAML login.",
        ["go", "security"],
        "team-identity",
    ),
    (
        "Component",
        "user-service",
        "User Service",
        "User profiles; used by auth and payments for identity.",
        ["python"],
        "team-identity",
    ),
    (
        "Component",
        "metrics-gateway",
        "Metrics Gateway",
        "Receives metrics from every service and forwards them.",
        ["go"],
        "team-sre",
    ),
    ("Resource", "event-bus", "Event bus", "The company-wide Kafka cluster.", ["kafka"], "team-platform"),
    ("Group", "team-payments", "Payments team", "Owns the billing platform.", [], ""),
    (
        "Template",
        "python-service",
        "Python service",
        "Create a new Python microservice with CI and deployment.",
        ["python", "recommended"],
        "team-platform",
    ),
    (
        "Template",
        "react-app",
        "React web app",
        "A single-page web app with a design system.",
        ["typescript", "react"],
        "team-platform",
    ),
]

PAYMENT_DOCS = {
    "mkdocs.yml": "site_name: Payment Service\nnav:\n  - index.md\n  - runbook.md\n  - architecture.md\n",
    "docs/index.md": "# Payment Service\n\nThe payment service authorises card payments.\n",
    "docs/runbook.md": (
        "# Payment Service runbook\n\n"
        "## Alerts\n\nWhat to do when the error budget burns. Check the dashboards first.\n\n"
        "## Rollback\n\nRoll back a bad deploy with `idp-console deploy payment-service --rollback`. "
        "A rollback takes two minutes.\n\n"
        "## Acquirer outage\n\nWhen an acquirer is down, fail over to the secondary acquirer.\n"
    ),
    "docs/architecture.md": (
        "# Architecture\n\n## Data flow\n\nRequests arrive through the gateway, then the payment "
        "service calls fraud scoring and the ledger.\n"
    ),
}

LEDGER_DOCS = {
    "mkdocs.yml": "site_name: Ledger\n",
    "docs/index.md": (
        "# Ledger\n\n## Replay events\n\nReplay ledger events from the event bus after an incident.\n"
    ),
}


def build(tmp_path: Path) -> list[Entity]:
    """The corpus's entities, with docs for payment-service and ledger-service on disk."""
    write_files(tmp_path / "payment-docs", PAYMENT_DOCS)
    write_files(tmp_path / "ledger-docs", LEDGER_DOCS)
    refs = {"payment-service": "dir:payment-docs", "ledger-service": "dir:ledger-docs"}
    entities = []
    for kind, name, title, description, tags, owner in ENTITIES:
        metadata = {"name": name, "title": title, "description": description, "tags": tags}
        if name in refs:
            metadata["annotations"] = {"backstage.io/techdocs-ref": refs[name]}
        spec = {"owner": owner, "type": "service"} if owner else {}
        raw = {"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": metadata, "spec": spec}
        entities.append(Entity(raw, SourcePosition(str(tmp_path / "catalog.yaml"), 1)))
    return entities
