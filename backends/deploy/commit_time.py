"""Which commit a deploy ships, and when it was made: the lead time for changes (commit → in
production) on the scorecard without anything from CI.

A version is a git tag of the service's repository, named by its ``backstage.io/source-location:
url:…`` annotation (only that: the ``origin`` of the checkout a catalog file was read from, which
provisioning also accepts, is as often a catalog monorepo, and fetching it on every deploy to look
for a tag it does not have would only slow deploys down). Best effort by design: no annotation, an
unreachable remote or a version that is not a tag records no commit time, and the deploy goes on;
``deploy --commit-time`` (CI) is the way to give one then.
"""

from __future__ import annotations

from backends.catalog.model import Entity
from backends.deploy.provision import SOURCE_LOCATION, ProvisionError, service_repository
from backends.git.checkout import GitSourceError
from backends.git.versions import VersionCommit, version_commit


def deployed_commit(entity: Entity, version: str, commit_sha: str | None = None) -> VersionCommit | None:
    """The commit of ``version`` in ``entity``'s repository, or None when it cannot be known (or
    when ``commit_sha`` names another commit than the tag: its time is not the tag's)."""
    if not version or not _has_own_repository(entity):
        return None
    try:
        found = version_commit(service_repository(entity), version)
    except (ProvisionError, GitSourceError, OSError):
        return None
    if commit_sha and not found.sha.startswith(commit_sha.lower()):
        return None
    return found


def _has_own_repository(entity: Entity) -> bool:
    return entity.annotations.get(SOURCE_LOCATION, "").startswith("url:")
