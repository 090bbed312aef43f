"""Git helpers: checkouts of catalog/template/docs sources (checkout.py) and publishing (publish.py).

The package's names are imported on first use: ``backends.git.forge`` is read with the workspace
config at every start, and gitpython (behind ``checkout``) costs the first paint ~50 ms.
"""

from typing import TYPE_CHECKING

from backends.lazy import lazy_exports

if TYPE_CHECKING:
    from backends.git.checkout import GitCheckout, GitSourceError, repository_cache, sync_repository

__all__ = ["GitCheckout", "GitSourceError", "repository_cache", "sync_repository"]
__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__, "checkout"))
