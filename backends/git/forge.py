"""Change requests on a hosted forge through its REST API (httpx): GitHub pull requests and GitLab
merge requests, for a branch that was already pushed with git.

```yaml
forge:
  type: github                    # or gitlab
  url: https://api.github.com     # the API base (GitHub Enterprise: https://HOST/api/v3,
                                  #   GitLab: https://HOST/api/v4); this default per type
  project: platform/infrastructure
  tokenSecret: github             # keyring name / IDP_CONSOLE_SECRET_GITHUB (default: the type)
```
GitHub: ``POST /repos/{owner}/{repo}/pulls`` with ``Authorization: Bearer``; GitLab:
``POST /projects/{url-encoded path}/merge_requests`` with ``PRIVATE-TOKEN``. The token is only ever
a request header: never in a message, a log line or a URL. Every refusal is one line that says what
to do (401, 403, 404, 409/422 — a request that already exists is named with its link).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from backends.config_checks import ConfigError, ConfigPath, mapping, shown, text

FORGE_TYPES = ("github", "gitlab")
FORGE_KEYS = frozenset({"type", "url", "project", "tokenSecret"})
DEFAULT_API = {"github": "https://api.github.com", "gitlab": "https://gitlab.com/api/v4"}
NAMES = {"github": "GitHub", "gitlab": "GitLab"}

if TYPE_CHECKING:
    import httpx


class ForgeError(Exception):
    """The forge refused or could not be reached; one line, never the token."""


@dataclass(frozen=True, slots=True)
class ForgeSettings:
    type: str  # github | gitlab
    url: str  # the REST API's base
    project: str  # owner/name (GitLab: group[/subgroup]/name)
    token_secret: str

    @property
    def name(self) -> str:
        return NAMES[self.type]

    @property
    def noun(self) -> str:
        return "pull request" if self.type == "github" else "merge request"


@dataclass(frozen=True, slots=True)
class OpenedRequest:
    number: int  # GitHub's number, GitLab's iid (what people write as #N / !N)
    url: str  # the page a reviewer opens


def parse_forge_settings(value: Any, path: ConfigPath) -> ForgeSettings | None:
    """A ``forge:`` mapping (None when absent); raises :class:`ConfigError` naming the key."""
    if value is None:
        return None
    data = mapping(value, path, FORGE_KEYS)
    kind = text(data.get("type"), (*path, "type"))
    if kind not in FORGE_TYPES:
        raise ConfigError((*path, "type"), f"expected one of {', '.join(FORGE_TYPES)}, got {shown(kind)}")
    url = text(data["url"], (*path, "url")) if "url" in data else DEFAULT_API[kind]
    if not url.startswith(("https://", "http://")):
        raise ConfigError((*path, "url"), f"expected the API's http(s) base URL, got {shown(url)}")
    project = text(data.get("project"), (*path, "project")).strip("/")
    if project.count("/") < (1 if kind == "github" else 0) or (kind == "github" and project.count("/") > 1):
        raise ConfigError((*path, "project"), f"expected owner/name, got {shown(project)}")
    secret = text(data["tokenSecret"], (*path, "tokenSecret")) if "tokenSecret" in data else kind
    return ForgeSettings(kind, url.rstrip("/"), project, secret)


def open_change_request(
    settings: ForgeSettings,
    token: str,
    *,
    branch: str,
    base: str,
    title: str,
    body: str,
    transport: httpx.BaseTransport | None = None,
) -> OpenedRequest:
    """Open a pull request (GitHub) or merge request (GitLab) of ``branch`` into ``base``."""
    with _client(settings, token, transport) as client:
        if settings.type == "github":
            response = _send(client, settings, "POST", f"/repos/{settings.project}/pulls",
                             json={"title": title, "head": branch, "base": base, "body": body})  # fmt: skip
            if response.status_code == 201:
                data = response.json()
                return OpenedRequest(int(data["number"]), str(data["html_url"]))
            if response.status_code == 422 and "already exists" in _reason(response):
                owner = settings.project.split("/")[0]
                found = _send(client, settings, "GET", f"/repos/{settings.project}/pulls",
                              params={"head": f"{owner}:{branch}", "state": "open"})  # fmt: skip
                _already(settings, branch, found, "number", "html_url")
        else:
            project = quote(settings.project, safe="")
            response = _send(client, settings, "POST", f"/projects/{project}/merge_requests", json={
                "source_branch": branch, "target_branch": base, "title": title, "description": body,
            })  # fmt: skip
            if response.status_code == 201:
                data = response.json()
                return OpenedRequest(int(data["iid"]), str(data["web_url"]))
            if response.status_code == 409:
                found = _send(client, settings, "GET", f"/projects/{project}/merge_requests",
                              params={"source_branch": branch, "state": "opened"})  # fmt: skip
                _already(settings, branch, found, "iid", "web_url")
        raise ForgeError(_refusal(settings, response))


def _client(settings: ForgeSettings, token: str, transport: httpx.BaseTransport | None) -> httpx.Client:
    if settings.type == "github":
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
    else:
        headers = {"PRIVATE-TOKEN": token}
    headers["User-Agent"] = "idp-console"  # GitHub refuses requests without one
    # Imported here: the workspace config reads ForgeSettings at every start, before the first paint.
    import httpx

    from backends.http import tls_context

    timeout = httpx.Timeout(20.0, connect=5.0)
    return httpx.Client(
        base_url=settings.url, headers=headers, timeout=timeout, transport=transport, verify=tls_context()
    )


def _send(
    client: httpx.Client, settings: ForgeSettings, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    import httpx

    try:
        return client.request(method, path, **kwargs)
    except httpx.HTTPError as error:
        raise ForgeError(
            f"cannot reach {settings.name} at {settings.url}: {type(error).__name__}: {error}"
        ) from None


def _already(
    settings: ForgeSettings, branch: str, found: httpx.Response, number_key: str, url_key: str
) -> None:
    """Raise the "already exists" error, with the existing request's link when the forge lists it."""
    existing: list[Any] = []
    if found.status_code == 200 and isinstance(found.json(), list):
        existing = found.json()
    shown_as = f": #{existing[0][number_key]} {existing[0][url_key]}" if existing else ""
    raise ForgeError(f"a {settings.noun} for {branch} already exists in {settings.project}{shown_as}")


def _reason(response: httpx.Response) -> str:
    """The forge's own words: GitHub's ``message`` + ``errors[].message``, GitLab's ``message``/``error``."""
    try:
        data = response.json()
    except ValueError:
        return response.text.strip().splitlines()[0] if response.text.strip() else ""
    if not isinstance(data, dict):
        return ""
    parts: list[str] = []
    message = data.get("message", data.get("error"))
    if isinstance(message, list):
        parts.extend(str(m) for m in message)
    elif isinstance(message, dict):
        parts.extend(
            f"{k} {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in message.items()
        )
    elif message:
        parts.append(str(message))
    for item in data.get("errors") or []:
        if isinstance(item, dict) and item.get("message"):
            parts.append(str(item["message"]))
        elif isinstance(item, dict) and item.get("field"):
            parts.append(f"{item.get('field')} {item.get('code', 'invalid')}")
    return "; ".join(parts)


def _refusal(settings: ForgeSettings, response: httpx.Response) -> str:
    status, reason = response.status_code, _reason(response)
    said = f" ({reason})" if reason else ""
    if status == 401:
        return (
            f"{settings.name} answered 401: the token in secret {settings.token_secret!r} was refused{said}; "
            f"store a valid one in the keyring or IDP_CONSOLE_SECRET_{settings.token_secret.upper()}"
        )
    if status == 403:
        who = f"the token may not open a {settings.noun} in {settings.project}"
        return f"{settings.name} answered 403: {who}{said}"
    if status == 404:
        return (
            f"{settings.name} answered 404: no project {settings.project} at {settings.url} "
            f"(or the token cannot see it){said}"
        )
    if status in (409, 422):
        return f"{settings.name} refused the {settings.noun} ({status}){said}"
    return f"{settings.name} answered {status} to the {settings.noun}{said}"
