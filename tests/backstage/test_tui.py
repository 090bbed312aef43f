"""The console on a Backstage: a change there shows on screen; unreachable, the offline copy and its age."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from backends.catalog.backstage import forget_mirrors
from tests.backstage.conftest import TOKEN, Backstage
from tests.backstage.test_catalog_source import Proxy, workspace_for
from tests.screens.helpers import screen_text, until, wait_for_catalog, workspace_app

pytestmark = pytest.mark.xdist_group("backstage")

GADGET = """
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: tui-gadget
spec:
  type: service
  lifecycle: production
  owner: team-b
"""


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("IDP_CONSOLE_SECRET_BACKSTAGE", TOKEN)
    yield
    forget_mirrors()


async def test_an_entity_added_in_backstage_appears_in_the_open_catalog(
    backstage: Backstage, tmp_path: Path
) -> None:
    app = workspace_app(workspace_for(tmp_path, backstage.url))
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for_catalog(pilot)
        await until(pilot, lambda: "tui-widget" in screen_text(app), what="the Backstage entities on screen")
        assert "tui-gadget" not in screen_text(app)

        with (backstage.catalog_dir / "tui.yaml").open("a") as file:
            file.write(GADGET)
        backstage.post("/api/catalog/refresh", {"entityRef": "component:default/tui-widget"})
        backstage.wait_for(
            lambda: backstage.entity("component:default/tui-gadget"), "the new entity processed"
        )

        # No reload: the console's poll of etags finds it and the list shows it.
        await until(pilot, lambda: "tui-gadget" in screen_text(app), what="the new entity on screen")


async def test_an_unreachable_backstage_opens_on_the_offline_copy_and_says_how_old(
    backstage: Backstage, tmp_path: Path
) -> None:
    proxy = Proxy(int(backstage.url.rsplit(":", 1)[1]))
    root = workspace_for(tmp_path, f"http://127.0.0.1:{proxy.port}")
    first = workspace_app(root)
    async with first.run_test(size=(140, 40)) as pilot:
        await wait_for_catalog(pilot)
        await until(
            pilot, lambda: "tui-widget" in screen_text(first), what="the Backstage entities on screen"
        )
    proxy.stop()
    forget_mirrors()

    second = workspace_app(root)
    async with second.run_test(size=(140, 40)) as pilot:
        await wait_for_catalog(pilot)
        await until(pilot, lambda: "tui-widget" in screen_text(second), what="the offline copy on screen")

        def warned() -> bool:
            return any("showing the offline copy from" in n.message for n in second._notifications)

        await until(pilot, warned, what="a notification saying how old the data is")
