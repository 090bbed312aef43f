"""The catalog's `r`: a file written after start appears once the user reloads."""

from __future__ import annotations

from pathlib import Path

from screens.catalog import CatalogScreen
from tests.screens.helpers import until, wait_for_catalog, workspace_app, write_workspace
from tests.screens.test_catalog_screen import visible_names

COMPONENT = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {name}
spec:
  type: service
  lifecycle: production
  owner: team-a
"""


async def test_r_reloads_the_catalog_and_shows_a_new_entity(tmp_path: Path) -> None:
    write_workspace(tmp_path, {"first.yaml": COMPONENT.format(name="first-service")})
    app = workspace_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for_catalog(pilot)
        screen = app.screen
        assert isinstance(screen, CatalogScreen)
        assert visible_names(screen) == ["first-service"]

        (tmp_path / "catalog" / "second.yaml").write_text(
            COMPONENT.format(name="second-service"), encoding="utf-8"
        )
        await pilot.press("r")
        await until(pilot, lambda: "second-service" in visible_names(screen))
        assert sorted(visible_names(screen)) == ["first-service", "second-service"]
