"""Lead time for changes from the service's own repository: a deploy of a tagged version records
the tag's commit and its time, so the scorecard's lead time needs nothing from CI."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from backends.deploy.engine import DeployEngine
from backends.deploy.events import DeployFinished, Outcome
from backends.git.checkout import GitSourceError
from backends.git.versions import VersionCommit, version_commit
from backends.kube.sim.cluster import SimulatedCluster
from backends.metrics import compute_scorecard, resolve_scope
from tests.deploy.conftest import SERVICE, FakeCatalog, collect, demo_catalog, entity, make_context

HOUR = 3600.0


def _git(repo: Path, *args: str, when: float | None = None) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    if when is not None:
        env |= {"GIT_AUTHOR_DATE": f"@{int(when)} +0000", "GIT_COMMITTER_DATE": f"@{int(when)} +0000"}
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _tagged_repository(root: Path, tags: dict[str, float]) -> dict[str, str]:
    """A repository with one commit per tag, made at the given times; returns tag → commit."""
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    commits = {}
    for tag, when in tags.items():
        (root / "CHANGELOG").write_text(f"{tag}\n", encoding="utf-8")
        _git(root, "add", "CHANGELOG")
        _git(root, "commit", "-q", "-m", tag, when=when)
        _git(root, "tag", tag)
        commits[tag] = _git(root, "rev-parse", "HEAD")
    return commits


def test_a_deploy_of_a_tagged_version_records_its_commit_time_and_lead_time_shows(
    sim: SimulatedCluster, tmp_path: Path
) -> None:
    made = time.time() - 5 * HOUR
    commits = _tagged_repository(tmp_path / "repo", {"v2.3.0": made - 2 * HOUR, "v2.3.1": made})
    service = next(e for e in demo_catalog().entities if e.name == SERVICE)
    annotations = {**service.annotations, "backstage.io/source-location": f"url:{tmp_path / 'repo'}"}
    others = [e for e in demo_catalog().entities if e.name != SERVICE]
    catalog = FakeCatalog(entity("Component", SERVICE, dict(service.spec), annotations), *others)
    context, _ = make_context(sim, tmp_path, catalog=catalog)

    events = collect(DeployEngine(context).deploy(SERVICE, "production", "v2.3.1"))
    assert isinstance(events[-1], DeployFinished) and events[-1].outcome is Outcome.SUCCEEDED, events[-1]
    record = context.history.records(SERVICE, "production", limit=1)[0]
    assert record.commit_sha == commits["v2.3.1"] and record.commit_time == int(made)
    assert record.finished_at is not None

    card = compute_scorecard(
        context.history, catalog, resolve_scope(catalog), window_days=7, now=time.time(),
        production=("production",),
    )  # fmt: skip
    lead = card.figure("lead_time")
    assert (lead.numerator, lead.denominator) == (1, 1)
    assert lead.value == record.finished_at - int(made) and lead.display.endswith("h")


def test_a_version_that_is_not_a_tag_deploys_without_a_commit_time(
    sim: SimulatedCluster, tmp_path: Path
) -> None:
    _tagged_repository(tmp_path / "repo", {"v2.3.0": time.time() - HOUR})
    service = next(e for e in demo_catalog().entities if e.name == SERVICE)
    annotations = {**service.annotations, "backstage.io/source-location": f"url:{tmp_path / 'repo'}"}
    others = [e for e in demo_catalog().entities if e.name != SERVICE]
    catalog = FakeCatalog(entity("Component", SERVICE, dict(service.spec), annotations), *others)
    context, _ = make_context(sim, tmp_path, catalog=catalog)

    events = collect(DeployEngine(context).deploy(SERVICE, "production", "v2.3.1"))
    assert isinstance(events[-1], DeployFinished) and events[-1].outcome is Outcome.SUCCEEDED, events[-1]
    record = context.history.records(SERVICE, "production", limit=1)[0]
    assert record.commit_time is None and record.commit_sha is None


def test_a_tag_made_after_the_repository_was_first_read_is_fetched(tmp_path: Path) -> None:
    old, new = time.time() - 9 * HOUR, time.time() - 2 * HOUR
    commits = _tagged_repository(tmp_path / "repo", {"v1.0.0": old})
    url = str(tmp_path / "repo")
    assert version_commit(url, "v1.0.0") == VersionCommit(commits["v1.0.0"], int(old))  # cloned
    (tmp_path / "repo" / "CHANGELOG").write_text("v1.0.1\n", encoding="utf-8")
    _git(tmp_path / "repo", "commit", "-q", "-am", "fix", when=new)
    _git(tmp_path / "repo", "tag", "v1.0.1")
    fixed = _git(tmp_path / "repo", "rev-parse", "HEAD")
    assert version_commit(url, "v1.0.1") == VersionCommit(fixed, int(new))  # fetched into the mirror
    with pytest.raises(GitSourceError, match="v9.9.9"):
        version_commit(url, "v9.9.9")
