"""Synthetic Backstage catalogs for benchmarks: a realistic mix of kinds and relations.

``write_corpus(dir, entities=10_000, files=1_000)`` writes ``files`` YAML files (in folders of 100)
holding ``entities`` valid entities in total, plus an ``idp-console.yaml`` workspace reading them,
and returns the workspace directory. The mix follows a mid-size organisation: per 100 entities about
45 components, 18 APIs, 14 resources, 10 users, 6 groups, 5 systems, 2 domains; components are owned
by groups, belong to systems, provide and consume APIs and depend on resources and other components,
so relation building and the filter index do real work. Output is deterministic (seeded).
"""

from __future__ import annotations

import random
from pathlib import Path

_MIX = (
    ("Component", 45),
    ("API", 18),
    ("Resource", 14),
    ("User", 10),
    ("Group", 6),
    ("System", 5),
    ("Domain", 2),
)
_WORDS = [
    "payment",
    "order",
    "cart",
    "user",
    "auth",
    "search",
    "catalog",
    "billing",
    "invoice",
    "ledger",
    "fraud",
    "pricing",
    "inventory",
    "shipping",
    "notification",
    "email",
    "report",
    "analytics",
    "export",
    "import",
    "gateway",
    "proxy",
    "cache",
    "queue",
    "stream",
    "profile",
    "session",
    "recommendation",
    "review",
    "rating",
    "media",
    "image",
    "video",
    "upload",
    "audit",
    "compliance",
    "tax",
    "currency",
    "loyalty",
]
_LANGS = ("python", "java", "go", "typescript", "kotlin", "rust", "scala", "ruby")
_LIFECYCLES = ("production", "production", "production", "experimental", "deprecated")
_COMPONENT_TYPES = ("service", "service", "service", "website", "library", "worker", "pipeline")
_RESOURCE_TYPES = ("database", "cache", "bucket", "kafka-topic", "queue")
_API_TYPES = ("openapi", "grpc", "asyncapi", "graphql")


def _kinds(total: int) -> list[str]:
    weights = sum(w for _, w in _MIX)
    kinds: list[str] = []
    for kind, weight in _MIX:
        kinds.extend([kind] * max(1, round(total * weight / weights)))
    while len(kinds) < total:
        kinds.append("Component")
    return kinds[:total]


def _names(kind: str, count: int) -> list[str]:
    prefix = {
        "Component": "svc",
        "API": "api",
        "Resource": "res",
        "User": "user",
        "Group": "team",
        "System": "sys",
        "Domain": "dom",
    }[kind]
    return [f"{_WORDS[i % len(_WORDS)]}-{prefix}-{i}" for i in range(count)]


def _entity(kind: str, name: str, rng: random.Random, pools: dict[str, list[str]]) -> str:
    def pick(pool: str) -> str:
        return rng.choice(pools[pool])

    words = " ".join(rng.sample(_WORDS, 4))
    head = (
        f"apiVersion: backstage.io/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\n"
        f"  title: {name.replace('-', ' ').title()}\n"
        f"  description: Handles {words} for the {pick('Domain')} domain.\n"
    )
    if kind == "Component":
        tags = ", ".join(rng.sample(_LANGS, 1) + rng.sample(_WORDS, 1))
        depends = [f"resource:{pick('Resource')}"] + [
            f"component:{pick('Component')}" for _ in range(rng.randint(0, 2))
        ]
        consumes = sorted({pick("API") for _ in range(rng.randint(0, 3))})
        return (
            f"{head}  tags: [{tags}]\n"
            f"  annotations:\n    backstage.io/kubernetes-id: {name}\n"
            f"    github.com/project-slug: acme/{name}\n"
            f"  links:\n    - url: https://github.com/acme/{name}\n      title: Repository\n"
            f"spec:\n  type: {rng.choice(_COMPONENT_TYPES)}\n  lifecycle: {rng.choice(_LIFECYCLES)}\n"
            f"  owner: {pick('Group')}\n  system: {pick('System')}\n"
            f"  providesApis: [{pick('API')}]\n  consumesApis: [{', '.join(consumes)}]\n"
            f"  dependsOn: [{', '.join(depends)}]\n"
        )
    if kind == "API":
        return (
            f"{head}  tags: [{rng.choice(_API_TYPES)}]\n"
            f"spec:\n  type: {rng.choice(_API_TYPES)}\n  lifecycle: {rng.choice(_LIFECYCLES)}\n"
            f"  owner: {pick('Group')}\n  system: {pick('System')}\n"
            f"  definition: |\n    openapi: 3.0.0\n"
            f"    info: {{title: {name}, version: 1.0.0}}\n    paths: {{}}\n"
        )
    if kind == "Resource":
        return (
            f"{head}spec:\n  type: {rng.choice(_RESOURCE_TYPES)}\n  owner: {pick('Group')}\n"
            f"  system: {pick('System')}\n"
        )
    if kind == "User":
        return (
            f"{head}spec:\n  profile:\n    displayName: {name.title()}\n    email: {name}@acme.example\n"
            f"  memberOf: [{pick('Group')}]\n"
        )
    if kind == "Group":
        parent = pick("Group")
        parent_line = f"  parent: {parent}\n" if parent != name else ""
        return f"{head}spec:\n  type: team\n{parent_line}  children: []\n"
    if kind == "System":
        return f"{head}spec:\n  owner: {pick('Group')}\n  domain: {pick('Domain')}\n"
    return f"{head}spec:\n  owner: {pick('Group')}\n"


def write_corpus(directory: Path, entities: int = 10_000, files: int = 1_000, seed: int = 7) -> Path:
    """Write a synthetic catalog workspace into ``directory`` and return it (the workspace root)."""
    rng = random.Random(seed)
    kinds = _kinds(entities)
    counts = {kind: kinds.count(kind) for kind, _ in _MIX}
    pools = {kind: _names(kind, max(1, counts[kind])) for kind, _ in _MIX}
    documents = []
    used = {kind: 0 for kind, _ in _MIX}
    for kind in kinds:
        name = pools[kind][used[kind]]
        used[kind] += 1
        documents.append(_entity(kind, name, rng, pools))
    rng.shuffle(documents)
    catalog = directory / "catalog"
    per_file, extra = divmod(len(documents), files)
    start = 0
    for number in range(files):
        size = per_file + (1 if number < extra else 0)
        chunk = documents[start : start + size]
        start += size
        folder = catalog / f"part-{number // 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"entities-{number:05d}.yaml").write_text("---\n".join(chunk), encoding="utf-8")
    (directory / "idp-console.yaml").write_text(
        f"name: synthetic {entities} entities\n"
        "catalog:\n  sources:\n    - type: dir\n      path: catalog/**/*.yaml\n",
        encoding="utf-8",
    )
    return directory


def corpus_files(workspace: Path) -> list[Path]:
    """The YAML files of a corpus written by ``write_corpus``, sorted."""
    return sorted((workspace / "catalog").glob("*/*.yaml"))
