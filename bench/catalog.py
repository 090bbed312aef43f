"""Catalog ingest, filter and memory figures (prints numbers; never asserted in tests).

    uv run python bench/catalog.py            # 10k and 100k corpora
    uv run python bench/catalog.py --quick    # 10k only, fewer repetitions

Whole-process timings (CLI start-up included) are the best of N runs, wall clock and CPU (user+sys
of the child), because the machine is shared: CPU time is the steadier figure under load.

(a) floor: yaml_rs parsing the same files in one process, results discarded per file; and the same
    keeping every document alive (an ingest must keep them, which costs allocation);
(b) ingest: ``idp-console catalog list --workspace W --filter <no match> -o json`` =
    parse + validate + relations + filter index; and ``idp-console catalog validate -o json DIR``;
(c) the Backstage oracle ``node validate.js`` over the same files, when installed (see
    tests/catalog/test_oracle.py: it is cached in the temp dir per package-lock);
(d) filter time per query, in process, at 10k and 100k;
(e) peak RSS of a child process loading the 100k workspace (resource.getrusage).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _corpus import corpus_files, write_corpus  # noqa: E402

PYTHON = sys.executable
IDP = str(Path(sys.executable).with_name("idp-console"))
NO_MATCH = "zzzz-no-entity-matches-this"

_FLOOR = """
import sys, yaml_rs
keep = sys.argv[1] == "keep"
kept = []
for path in sys.argv[2:]:
    with open(path, encoding="utf-8") as handle:
        data = yaml_rs.loads(handle.read(), parse_datetime=False)
    if keep:
        kept.append(data)
"""

_RSS = """
import resource, sys, time
from backends.catalog import load_catalog
from backends.workspace import load_workspace
started = time.perf_counter()
catalog = load_catalog(load_workspace(sys.argv[1]))
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(catalog.entities), len(catalog.problems), seconds, peak)
"""


def run_process(argv: list[str], repeat: int) -> tuple[float, float]:
    """Best (wall seconds, CPU seconds) of ``repeat`` runs of a child process."""
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return min(walls), min(cpus)


def oracle_dir() -> Path | None:
    if shutil.which("node") is None:
        return None
    candidates = sorted(glob.glob(os.path.join(tempfile.gettempdir(), "idp-console-oracle-*")))
    for candidate in candidates:
        if (Path(candidate) / "node_modules/@backstage/catalog-model").is_dir():
            return Path(candidate)
    return None


def fmt(pair: tuple[float, float]) -> str:
    return f"{pair[0]:6.2f} s wall  {pair[1]:6.2f} s cpu"


def bench_ingest(workspace: Path, repeat: int) -> None:
    files = [str(p) for p in corpus_files(workspace)]
    print(f"\n== ingest, {len(files)} files ({workspace}) ==")
    floor = run_process([PYTHON, "-c", _FLOOR, "discard", *files], repeat)
    floor_keep = run_process([PYTHON, "-c", _FLOOR, "keep", *files], repeat)
    listing = run_process(
        [IDP, "catalog", "list", "--workspace", str(workspace), "--filter", NO_MATCH, "-o", "json"], repeat
    )
    validate = run_process(
        [IDP, "catalog", "validate", "-o", "json", str(workspace / "catalog/*/*.yaml")], repeat
    )
    print(f"(a) floor: yaml_rs parse, discard     {fmt(floor)}")
    print(f"(a) floor: yaml_rs parse, keep all    {fmt(floor_keep)}")
    print(f"(b) idp-console catalog list (ingest) {fmt(listing)}")
    print(f"(b) idp-console catalog validate      {fmt(validate)}")
    print(
        f"    ingest / floor: {listing[0] / floor[0]:.1f}x wall, {listing[1] / floor[1]:.1f}x cpu "
        f"(vs keep-all floor: {listing[0] / floor_keep[0]:.1f}x wall, {listing[1] / floor_keep[1]:.1f}x cpu)"
    )
    oracle = oracle_dir()
    if oracle is None:
        print("(c) oracle: not installed (run tests/catalog/test_oracle.py once with node available)")
        return
    node = run_process(["node", str(oracle / "validate.js"), *files], max(1, repeat // 2))
    print(f"(c) node validate.js (Backstage)      {fmt(node)}")
    print(f"    oracle / ingest: {node[0] / listing[0]:.1f}x wall, {node[1] / listing[1]:.1f}x cpu")


def bench_filter(workspace: Path, label: str) -> None:
    from backends.catalog import load_catalog
    from backends.workspace import load_workspace

    catalog = load_catalog(load_workspace(workspace))
    sample = next(e for e in catalog.entities if e.kind == "Component")
    queries = [
        "payment",
        "kind:component",
        f"kind:component owner:{sample.owner}",
        "lifecycle:production tag:python",
        "type:service pay gate",
        f"system:{sample.system}",
        "zzzz",
        "e",  # matches almost everything
    ]
    print(f"\n== (d) filter, {len(catalog.entities)} entities ({label}), cold (no previous query) ==")
    index = catalog._index
    for query in queries:
        times = []
        for _ in range(15):
            index._last = None  # measure the full search, not the narrowing of the previous result
            started = time.perf_counter()
            found = catalog.filter(query)
            times.append(time.perf_counter() - started)
        print(
            f"  {query!r:44} {len(found):7d} hits  median {statistics.median(times) * 1000:7.2f} ms  "
            f"max {max(times) * 1000:7.2f} ms"
        )
    typed = "kind:component payment gateway"
    keystrokes = [typed[: i + 1] for i in range(len(typed))]
    times = []
    for _ in range(5):
        index._last = None
        for text in keystrokes:
            started = time.perf_counter()
            catalog.filter(text)
            times.append(time.perf_counter() - started)
    times.sort()
    print(
        f"  typing {typed!r} one key at a time: median {statistics.median(times) * 1000:.2f} ms, "
        f"p95 {times[int(len(times) * 0.95)] * 1000:.2f} ms, max {times[-1] * 1000:.2f} ms per keystroke"
    )


def bench_rss(workspace: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run(
        [PYTHON, "-c", _RSS, str(workspace)], capture_output=True, text=True, env=env, check=True
    )
    entities, problems, seconds, rss_kb = out.stdout.split()
    print(
        f"\n== (e) peak RSS loading {entities} entities: {int(rss_kb) / 1024:.0f} MB "
        f"(load {float(seconds):.2f} s in process, {problems} problems) =="
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="10k corpus only, 2 repetitions")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", metavar="DIR", help="write the corpora here and keep them")
    args = parser.parse_args()
    repeat = 2 if args.quick else args.repeat
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="idp-catalog-bench-"))
    try:
        small = base / "10k"
        if not (small / "idp-console.yaml").exists():
            write_corpus(small, 10_000, 1_000)
        bench_ingest(small, repeat)
        bench_filter(small, "1k files")
        if not args.quick:
            large = base / "100k"
            if not (large / "idp-console.yaml").exists():
                write_corpus(large, 100_000, 10_000)
            bench_filter(large, "10k files")
            bench_rss(large)
        print(json.dumps({"python": sys.version.split()[0], "cpus": os.cpu_count()}))
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
