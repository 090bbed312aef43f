"""Differential test: our verdicts against Backstage's own validator (the oracle), when node exists.

The oracle (``/work/shared/oracles/backstage-catalog``) runs ``@backstage/catalog-model`` over the
same files. It is installed once per package-lock into a temp dir (the shared copy is read-only).
Every document of ``corpus/`` must get the same verdict (valid / invalid / empty), the same ref and
the same duplicate flag (a later definition of a ref, case-insensitively).
A Location target error is, on both sides, a record of its own after a valid Location: they are
compared per Location (how many of its targets failed).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from console.cli import main

from .conftest import CORPUS

ORACLE = Path(
    os.environ.get("IDP_CONSOLE_ORACLE", Path(__file__).parents[3] / "shared/oracles/backstage-catalog")
)
if not ORACLE.exists():
    ORACLE = Path("/work/shared/oracles/backstage-catalog")

pytestmark = pytest.mark.xdist_group("oracle")


@pytest.fixture(scope="session")
def oracle_dir() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm not installed: differential test against Backstage skipped")
    if not (ORACLE / "validate.js").exists():
        pytest.skip(f"oracle not found at {ORACLE}")
    digest = hashlib.sha256((ORACLE / "package-lock.json").read_bytes()).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / f"idp-console-oracle-{digest}"
    if (target / "node_modules/@backstage/catalog-model").is_dir():
        return target
    staging = Path(tempfile.mkdtemp(prefix="idp-console-oracle-"))
    shutil.copytree(ORACLE, staging, dirs_exist_ok=True)
    try:
        subprocess.run(
            ["bash", "setup.sh", str(staging)], cwd=staging, check=True, capture_output=True, timeout=600
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        shutil.rmtree(staging, ignore_errors=True)
        pytest.skip(f"npm install of the oracle failed (offline?): {error}")
    if target.exists():  # another session won the race
        shutil.rmtree(staging, ignore_errors=True)
    else:
        staging.rename(target)
    return target


def _corpus_files() -> list[str]:
    return sorted(str(p.relative_to(CORPUS)) for p in CORPUS.glob("*.yaml")) + ["locations/root.yaml"]


def _oracle_verdicts(oracle: Path) -> dict[tuple[str, int], tuple[bool | None, str | None]]:
    run = subprocess.run(
        ["node", str(oracle / "validate.js"), "--follow", *_corpus_files()],
        cwd=CORPUS,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode in (0, 1), run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    verdicts: dict[tuple[str, Any], Any] = {}
    for line in lines:
        if line["index"] is not None:
            ref = line["ref"] if line["valid"] else None
            verdicts[(line["file"], line["index"])] = (line["valid"], ref, "duplicateOf" in line)
    for line in lines:
        if line["index"] is None and line["valid"] is False:  # a target problem, from "file#index"
            file, _, index = line["file"].rpartition("#")
            key = (file, ("failed targets of", verdicts[(file, int(index))][1]))
            verdicts[key] = verdicts.get(key, 0) + 1
    return verdicts


def _our_verdicts(results: list[dict[str, Any]]) -> dict[tuple[str, Any], Any]:
    verdicts: dict[tuple[str, Any], Any] = {}
    for r in results:
        if "target" in r:
            key = (r["file"], ("failed targets of", r["ref"]))
            verdicts[key] = verdicts.get(key, 0) + 1
        else:
            duplicate = any(w.startswith("duplicate entity ") for w in r.get("warnings", []))
            verdicts[(r["file"], r["index"])] = (r["valid"], r["ref"] if r["valid"] else None, duplicate)
    return verdicts


def test_corpus_covers_every_rule() -> None:
    documents = sum(p.read_text().count("\napiVersion:") for p in CORPUS.rglob("*.yaml"))
    assert documents >= 100


def test_verdicts_match_backstage(oracle_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    expected = _oracle_verdicts(oracle_dir)
    monkeypatch.chdir(CORPUS)
    main(["catalog", "validate", "--follow", "--output", "json", *_corpus_files()])
    ours = _our_verdicts(json.loads(capsys.readouterr().out))
    differences = {
        key: {"backstage": expected.get(key), "ours": ours.get(key)}
        for key in sorted(set(expected) | set(ours), key=str)
        if expected.get(key) != ours.get(key)
    }
    assert differences == {}
    assert len(expected) >= 140
    documents = [v for v in expected.values() if isinstance(v, tuple)]
    valid = sum(1 for v, _, _ in documents if v is True)
    invalid = sum(1 for v, _, _ in documents if v is False)
    assert sum(1 for _, _, duplicate in documents if duplicate) >= 1
    assert valid >= 30 and invalid >= 80  # the corpus exercises both sides of each rule
