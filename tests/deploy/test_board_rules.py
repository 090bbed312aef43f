"""Issue 13: the deploy board's rules without a terminal (backends/deploy/board.py)."""

from __future__ import annotations

from backends.deploy.board import board_rows, live_run_of


def cell(stable: object, canary: object) -> str:
    return "—" if stable is None else f"✔ {stable}" + (f" ⇢ {canary}" if canary else "")


def test_rows_mark_running_deploys_and_unreachable_environments() -> None:
    cells = {
        ("api", "staging"): ("v2", None),
        ("api", "production"): ("v1", "v2"),
        ("web", "staging"): ("v5", None),
    }
    rows = board_rows(
        ["api", "web"],
        ["staging", "production"],
        cells,
        errors={"production"},
        live={("api", "staging")},
        cell=cell,
    )
    assert rows == [("api", "▶ ✔ v2", "✖ unreachable"), ("web", "✔ v5", "✖ unreachable")]
    assert board_rows(["api"], [], cells, cell=cell) == []  # no environment: nothing to list
    assert board_rows(["api"], ["production"], cells, cell=cell) == [("api", "✔ v1 ⇢ v2")]


def test_the_run_to_attach_to_prefers_the_environment_on_screen() -> None:
    runs = {("api", "staging"): "run-s", ("api", "production"): "run-p"}
    environments = ["staging", "production"]
    assert live_run_of("api", runs, environments) == "run-s"
    assert live_run_of("api", runs, environments, ("api", "production")) == "run-p"
    assert live_run_of("api", runs, environments, ("web", "production")) == "run-s"
    assert live_run_of("web", runs, environments) is None
