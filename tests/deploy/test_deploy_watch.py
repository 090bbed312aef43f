"""ResourceWatch against the simulated API server: resume after dropped streams, re-list on 410."""

from __future__ import annotations

import time

from backends.kube.cluster import Gone
from backends.kube.sim import SeedService, start_simulated_cluster
from backends.kube.watch import ResourceWatch

from .conftest import IMAGE, SERVICE, Harness, make_context


def _labels_seen(seen: list[tuple[str, str, str | None]]) -> list[int]:
    values = []
    for _kind, name, n in seen:
        if name == SERVICE and n is not None and (not values or values[-1] != int(n)):
            values.append(int(n))
    return values


def _wait_streaming(watch: ResourceWatch, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not watch.streaming:
        assert time.monotonic() < deadline, "the watch never reopened its stream"
        time.sleep(0.005)


def _cut_the_stream(watch: ResourceWatch, harness: Harness, *, abrupt: bool) -> None:
    """Cut the watch's stream and wait until the watch has opened a new one.

    Cut again until it has: the client may say it is streaming a moment before the server holds
    its request, and the server may still hold a stream the client already lost (a cut of that one
    changes nothing for the watch)."""
    opened = watch.stats.watches
    deadline = time.monotonic() + 60
    while watch.stats.watches == opened:
        assert time.monotonic() < deadline, "the watch never reopened its stream after a cut"
        if watch.streaming:
            harness.sim.faults.drop_watches(abrupt=abrupt)
        time.sleep(0.05)


def test_dropped_streams_resume_with_no_missed_state(harness: Harness) -> None:
    cluster = harness.cluster
    seen: list = []
    watch = ResourceWatch(
        cluster,
        "deployments",
        "staging",
        timeout_seconds=5,
        listener=lambda kind, obj: seen.append(
            (kind, obj["metadata"]["name"], obj["metadata"]["labels"].get("n"))
        ),
    )
    with watch:
        # deadlines, not delays: generous so that a loaded CI machine never fails them
        assert watch.synced.wait(60)
        for i in range(20):
            cluster.patch("deployments", "staging", SERVICE, {"metadata": {"labels": {"n": str(i)}}})
            if i % 4 == 0:
                _cut_the_stream(watch, harness, abrupt=i % 8 == 0)
        last = watch.wait_until(lambda objs: objs[SERVICE]["metadata"]["labels"].get("n") == "19" or None, 60)
        assert last
    # every intermediate state arrived, in order, although the stream was cut five times
    assert _labels_seen(seen) == list(range(20))
    # five streams cut, each reopened by resuming where it left off: never a second list
    assert watch.stats.watches >= 6 and watch.stats.resumes >= 5 and watch.stats.lists == 1


def test_gone_relists_and_reports_the_difference(tmp_path) -> None:
    seed = [SeedService(SERVICE, ("staging",), IMAGE, 1)]
    with start_simulated_cluster(
        None, time_scale=0.02, attach=False, seed_objects=seed, history_limit=5
    ) as sim:
        context, _ = make_context(sim, tmp_path)
        cluster = context.cluster_for(context.environment("staging"))
        # A version that was compacted away is 410 Gone on the wire…
        _, version = cluster.list("deployments", "staging")
        for i in range(10):
            cluster.patch("deployments", "staging", SERVICE, {"metadata": {"labels": {"n": str(i)}}})
        try:
            next(iter(cluster.watch_stream("deployments", "staging", version, timeout_seconds=2)))
            raise AssertionError("expected 410 Gone")
        except Gone:
            pass
        # …and the watch answers it with a fresh list, reporting what changed meanwhile.
        seen: list = []
        watch = ResourceWatch(
            cluster,
            "deployments",
            "staging",
            timeout_seconds=5,
            listener=lambda kind, obj: seen.append(
                (kind, obj["metadata"]["name"], obj["metadata"]["labels"].get("n"))
            ),
        )
        with watch:
            _wait_streaming(watch)
            sim.faults.fail_next(10_000, watch=True, status=500)  # reconnects fail…
            assert sim.faults.drop_watches() >= 1
            for i in range(10, 30):  # …while the history moves past the watch's version
                cluster.patch("deployments", "staging", SERVICE, {"metadata": {"labels": {"n": str(i)}}})
            sim.faults.clear()
            assert watch.wait_until(
                lambda objs: objs[SERVICE]["metadata"]["labels"].get("n") == "29" or None, 10
            )
        assert watch.stats.relists >= 1 and watch.stats.lists >= 2
        assert _labels_seen(seen)[-1] == 29


def test_stop_interrupts_a_blocked_stream(harness: Harness) -> None:
    watch = ResourceWatch(harness.cluster, "pods", "production", timeout_seconds=60).start()
    assert watch.synced.wait(5)
    time.sleep(0.2)  # now blocked reading an idle stream
    began = time.monotonic()
    watch.stop()
    assert time.monotonic() - began < 2
