"""Git helpers: checkouts of catalog/template/docs sources (checkout.py) and publishing (publish.py)."""

from backends.git.checkout import GitCheckout, GitSourceError, repository_cache, sync_repository

__all__ = ["GitCheckout", "GitSourceError", "repository_cache", "sync_repository"]
