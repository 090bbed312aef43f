"""Infrastructure by pull request: ServiceResources files in a git repository, validated, costed,
checked by CEL policies and applied server-side (see ``idp-console infra`` and the README).

Modules: :mod:`.settings` (the ``infra:`` section), :mod:`.quantity`, :mod:`.resources` (the file),
:mod:`.repo` (reading a ref), :mod:`.policy`, :mod:`.render` (to Kubernetes objects), :mod:`.plan`,
:mod:`.apply` (apply, reconcile), :mod:`.request` (change requests: refs/pull on plain git, or
GitHub / GitLab through backends/git/forge.py), :mod:`.merge` (merging one on a plain git server),
:mod:`.history` (the ``infra_applies`` table).
"""
