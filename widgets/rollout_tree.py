"""A rollout as a tree, the way ``kubectl argo rollouts get rollout --watch`` draws it.

service → environment → stable / canary Deployment → ReplicaSets → pods, each with a status icon,
ready counts, restarts and age. Plain data in (the dataclasses below); the screen builds them from
whatever watches it runs. Ages arrive already formatted, so the screen decides which clock to use
(tests freeze it and snapshots stay stable).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from widgets.guard import Guarded

# One vocabulary of states for every node, so icons and colours agree across the tree.
ICONS: dict[str, str] = {
    "healthy": "✔",
    "progressing": "◐",
    "degraded": "✖",
    "pending": "○",
    "scaled-down": "·",
    "missing": "—",
}
STYLES: dict[str, str] = {
    "healthy": "green",
    "progressing": "yellow",
    "degraded": "bold red",
    "pending": "dim",
    "scaled-down": "dim",
    "missing": "dim",
}


@dataclass(frozen=True, slots=True)
class PodNode:
    name: str
    state: str  # one of ICONS
    status: str  # Running, ContainerCreating, CrashLoopBackOff …
    ready: bool
    restarts: int
    age: str


@dataclass(frozen=True, slots=True)
class ReplicaSetNode:
    name: str
    revision: str
    version: str
    desired: int
    ready: int
    pods: tuple[PodNode, ...] = ()


@dataclass(frozen=True, slots=True)
class TrackNode:
    """The stable or the canary Deployment."""

    track: str  # stable | canary
    name: str
    state: str
    version: str
    desired: int
    ready: int
    message: str = ""  # kubectl's rollout sentence when not done
    replica_sets: tuple[ReplicaSetNode, ...] = ()


@dataclass(frozen=True, slots=True)
class RolloutTreeData:
    service: str
    environment: str
    namespace: str
    cluster: str = ""
    tracks: tuple[TrackNode, ...] = ()
    note: str = ""  # e.g. "waiting for the cluster…" or an error


def _branch(last: bool) -> str:
    return "└─ " if last else "├─ "


def _stem(last: bool) -> str:
    return "   " if last else "│  "


class RolloutTree(Guarded, Static):
    """Draws a :class:`RolloutTreeData`; ``show_pods`` folds pods into one line per ReplicaSet."""

    DEFAULT_CSS = """
    RolloutTree { height: auto; width: auto; min-width: 100%; padding: 0 1; text-wrap: nowrap; }
    """

    show_pods: reactive[bool] = reactive(True)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes)
        self.data: RolloutTreeData | None = None

    def show(self, data: RolloutTreeData | None) -> None:
        self.data = data
        self.update(self.render_tree())

    def watch_show_pods(self) -> None:
        self.update(self.render_tree())

    def render_tree(self) -> Text:
        data = self.data
        text = Text(no_wrap=True)
        if data is None:
            text.append("No rollout selected.", style="dim italic")
            return text
        text.append(data.service, style="bold")
        where = f"namespace {data.namespace}" + (f" · {data.cluster}" if data.cluster else "")
        text.append("\n└─ ")
        text.append(data.environment, style="bold")
        text.append(f"  {where}", style="dim")
        if data.note:
            text.append(f"\n   {data.note}", style="italic")
        for index, track in enumerate(data.tracks):
            self._track(text, track, index == len(data.tracks) - 1)
        return text

    def _track(self, text: Text, track: TrackNode, last: bool) -> None:
        style = STYLES.get(track.state, "")
        text.append("\n   " + _branch(last))
        text.append(f"{ICONS.get(track.state, '?')} ", style=style)
        text.append(f"{track.track:<6} ", style="bold")
        text.append(f"{track.name}  ")
        text.append(track.version or "?", style="cyan")
        text.append(f"  {track.ready}/{track.desired} ready", style=style)
        if track.message:
            text.append(f"  {track.message}", style="dim")
        prefix = "   " + _stem(last)
        for index, rs in enumerate(track.replica_sets):
            self._replica_set(text, rs, prefix, index == len(track.replica_sets) - 1)

    def _replica_set(self, text: Text, rs: ReplicaSetNode, prefix: str, last: bool) -> None:
        state = (
            "healthy"
            if rs.desired and rs.ready >= rs.desired
            else "progressing"
            if rs.desired
            else "scaled-down"
        )
        text.append("\n" + prefix + _branch(last))
        text.append(f"{ICONS[state]} ", style=STYLES[state])
        text.append("ReplicaSet ", style="dim")
        text.append(rs.name)
        text.append(f"  rev:{rs.revision}  {rs.ready}/{rs.desired}", style="dim")
        inner = prefix + _stem(last)
        if not self.show_pods:
            if rs.pods:
                icons = Text()
                for pod in rs.pods:
                    icons.append(ICONS.get(pod.state, "?"), style=STYLES.get(pod.state, ""))
                text.append("\n" + inner + "└─ ")
                text.append(f"{len(rs.pods)} pods ", style="dim")
                text.append_text(icons)
            return
        width = max((len(p.name) for p in rs.pods), default=0)
        for index, pod in enumerate(rs.pods):
            self._pod(text, pod, inner, index == len(rs.pods) - 1, width)

    def _pod(self, text: Text, pod: PodNode, prefix: str, last: bool, width: int) -> None:
        style = STYLES.get(pod.state, "")
        text.append("\n" + prefix + _branch(last))
        text.append(f"{ICONS.get(pod.state, '?')} ", style=style)
        text.append(f"{pod.name:<{width}}  ")
        text.append(f"{pod.status:<10}", style=style)
        text.append(f" {'1/1' if pod.ready else '0/1'}", style="dim")
        # ↻ is kubectl-argo's restart column; red as soon as a container restarted.
        text.append(f"  ↻{pod.restarts}", style="bold red" if pod.restarts else "dim")
        text.append(f"  {pod.age}", style="dim")
