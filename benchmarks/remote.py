"""Models behind an endpoint: seconds per explanation in-process and through real servers.

The MNIST LeNet explained by GEEX (the library's recommended settings for 1×28×28 inputs) on test
digits: in-process, then served by MLServer 1.7.1 (JSON; it has no binary tensors) and by KServe
0.21 (JSON and the binary tensor extension), at each concurrency, with bytes per query and the
server's own compute time (from its request log); then the fastest setting through the seeded
fault proxy of the tests at each fault rate, with the largest difference from the fault-free
values. Every setting runs side by side in one run; the in-process time is measured before and
after the servers and averaged. The servers come from `.ci/build-servers` and run one torch
thread each (the client keeps the other core).

    python benchmarks/remote.py --data ../shared/data            # about 5 minutes on 2 cores

Results: ``benchmarks/results/remote/<run>/`` (``run.json``, ``results.json``, ``results.md``).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evoxplain import GEEX, BlackBox, recommended_settings
from evoxplain.endpoints import InferenceEndpoint

REPOSITORY = Path(__file__).resolve().parents[1]
RESULTS = REPOSITORY / "benchmarks" / "results" / "remote"
sys.path[:0] = [str(REPOSITORY / "tests" / "servers"), str(REPOSITORY / "tests")]  # the test servers and proxy

import launch  # noqa: E402
from fault_proxy import FaultProxy  # noqa: E402

PACKAGES = ("numpy", "torch", "evoxplain", "urllib3", "orjson")


@dataclasses.dataclass
class Settings:
    """What one run measures (each a command-line option ``--name``)."""

    images: int = 5
    queries: int = 2000
    concurrency: list[int] = dataclasses.field(default_factory=lambda: [1, 2, 4, 8])
    max_batch: int = 64
    fault_rates: list[float] = dataclasses.field(default_factory=lambda: [0.1, 0.3])
    retry_after: str = "1"
    delay: float = 0.1
    seed: int = 0
    data: str | None = None
    run: str = ""


def explain_all(bb: BlackBox, digits: torch.Tensor, settings: Settings) -> tuple[list[float], torch.Tensor]:
    """Seconds of each explanation and the values (one explanation per digit, untimed warm-up first)."""
    options = recommended_settings((1, 28, 28), settings.queries)
    GEEX(bb, queries=settings.queries, seed=settings.seed, **options).explain(digits[0])  # connections, first answer
    seconds, values = [], []
    for i, digit in enumerate(digits):
        started = time.perf_counter()
        exp = GEEX(bb, queries=settings.queries, seed=settings.seed + i, **options).explain(digit)
        seconds.append(time.perf_counter() - started)
        values.append(exp.values)
    return seconds, torch.stack(values)


def measure(
    name: str, model: Any, digits: torch.Tensor, settings: Settings, reference: torch.Tensor | None, server=None
) -> dict[str, Any]:
    """One row: seconds per explanation and what it cost."""
    bb = BlackBox(model)
    before = len(server.requests("lenet")) if server is not None else 0
    seconds, values = explain_all(bb, digits, settings)
    served = server.requests("lenet")[before:] if server is not None else []
    runs = len(digits) + 1  # the warm-up too
    return {
        "setting": name,
        "seconds": float(np.mean(seconds)),
        "seconds_each": [round(s, 4) for s in seconds],
        "sent_per_explanation": bb.sent / runs,
        "requests_per_explanation": bb.requests / runs,
        "retries_per_explanation": bb.retries / runs,
        "bytes_per_query": bb.bytes_sent / bb.sent if bb.sent else 0.0,
        "server_seconds": sum(line.get("seconds", 0.0) for line in served) / runs if served else None,
        "max_abs_diff": None if reference is None else float((values - reference).abs().max()),
        "values": values,
    }


def run(settings: Settings) -> dict[str, Any]:
    """Every setting of the module docstring, side by side; returns the rows and what ran."""
    from evoxplain_zoo.data import load_mnist
    from evoxplain_zoo.models.lenet import load_lenet

    if settings.data:
        os.environ["EVOXPLAIN_DATA"] = settings.data
    digits = load_mnist("test")[0][: settings.images]
    lenet = load_lenet("mnist")
    rows = [measure("in-process (before)", lenet, digits, settings, None)]
    reference = rows[0]["values"]
    with tempfile.TemporaryDirectory() as folder:
        lenet_file = Path(folder) / "lenet.pt"
        torch.jit.script(lenet).save(str(lenet_file))
        os.environ["EVOXPLAIN_SERVER_THREADS"] = "1"
        (Path(folder) / "mlserver").mkdir()
        (Path(folder) / "kserve").mkdir()
        servers = {
            "mlserver": launch.start_mlserver(Path(folder) / "mlserver", lenet_file),
            "kserve": launch.start_kserve(Path(folder) / "kserve", lenet_file),
        }
        try:
            rows += served_rows(servers, digits, settings, reference)
            rows += fault_rows(servers, rows, digits, settings)
        finally:
            for server in servers.values():
                launch.stop(server.process)
    rows.append(measure("in-process (after)", lenet, digits, settings, reference))
    in_process = (rows[0]["seconds"] + rows[-1]["seconds"]) / 2
    for row in rows:
        row["ratio"] = row["seconds"] / in_process
        row.pop("values")
    return {"in_process_seconds": in_process, "rows": rows}


def served_rows(servers, digits, settings: Settings, reference) -> list[dict[str, Any]]:
    rows = []
    for server, binary in (("mlserver", False), ("kserve", False), ("kserve", True)):
        for concurrency in settings.concurrency:
            url = f"{servers[server].url}/v2/models/lenet"
            endpoint = InferenceEndpoint(url, binary=binary, max_batch=settings.max_batch, concurrency=concurrency)
            name = f"{server} {'binary' if binary else 'json'} c={concurrency}"
            row = measure(name, endpoint, digits, settings, reference, servers[server])
            rows.append({**row, "server": server, "binary": binary, "concurrency": concurrency, "fault_rate": 0.0})
            endpoint.close()
            print(f"{name}: {row['seconds']:.3f} s per explanation", flush=True)
    return rows


def fault_rows(servers, rows, digits, settings: Settings) -> list[dict[str, Any]]:
    """The fastest served setting through the fault proxy: no faults (the proxy's own cost), then each rate."""
    best = min((r for r in rows if "server" in r), key=lambda r: r["seconds"])
    fault_free = best["values"]
    out = []
    for rate in [0.0, *settings.fault_rates]:
        upstream = servers[best["server"]]
        with FaultProxy(upstream.url, rate=rate, seed=settings.seed, retry_after=settings.retry_after,
                        delay=settings.delay) as proxy:  # fmt: skip
            endpoint = InferenceEndpoint(
                f"{proxy.url}/v2/models/lenet", binary=best["binary"], max_batch=settings.max_batch,
                concurrency=best["concurrency"], seed=settings.seed,
            )  # fmt: skip
            name = f"{best['setting']} through the proxy, {rate:.0%} faults"
            row = measure(name, endpoint, digits, settings, fault_free, upstream)
            faulted = proxy.faulted() / max(len(proxy.log), 1)
        out.append({**row, "fault_rate": rate, "faulted_share": faulted, "server": best["server"]})
        print(f"{name}: {row['seconds']:.3f} s per explanation, {faulted:.0%} of requests faulted", flush=True)
    return out


# -- metadata and files ----------------------------------------------------------------------------


def metadata(settings: Settings, started: str) -> dict[str, Any]:
    """Command, machine, commit, date, versions and load (the shared harness was not on main yet)."""

    def version(name: str) -> str | None:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None

    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=REPOSITORY).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, cwd=REPOSITORY).stdout
    return {
        "command": shlex.join(["python", *sys.argv]),
        "settings": dataclasses.asdict(settings),
        "commit": commit + (" (with uncommitted changes)" if dirty.strip() else ""),
        "started": started,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "python": platform.python_version(),
        "versions": {name: version(name) for name in PACKAGES},
        "servers": {"mlserver": "1.7.1", "kserve": "0.21.0", "server_torch_threads": 1},
    }


def render(meta: dict[str, Any], result: dict[str, Any]) -> str:
    lines = [
        "# Models behind an endpoint: seconds per explanation",
        "",
        f"`{meta['command']}` at commit `{meta['commit']}`, {meta['started']} to {meta['finished']}, "
        f"{meta['machine']['cpus']} CPUs (load average {meta['machine']['load_average_at_start']} at the start, "
        f"{meta['machine']['load_average_at_end']} at the end: shared with other work), Python {meta['python']}, "
        f"torch {meta['versions']['torch']}, urllib3 {meta['versions']['urllib3']}, "
        f"orjson {meta['versions']['orjson']}.",
        "",
        f"In-process: {result['in_process_seconds']:.3f} s per explanation (mean of the runs before and after).",
        "",
        "| setting | s / explanation | × in-process | requests | retries | bytes / query | server compute s "
        "| max abs diff |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        server = "" if row["server_seconds"] is None else f"{row['server_seconds']:.3f}"
        diff = "" if row["max_abs_diff"] is None else f"{row['max_abs_diff']:.1e}"
        lines.append(
            f"| {row['setting']} | {row['seconds']:.3f} | {row['ratio']:.2f} | {row['requests_per_explanation']:.1f} "
            f"| {row['retries_per_explanation']:.1f} | {row['bytes_per_query']:.0f} | {server} | {diff} |"
        )
    lines += [
        "",
        "Requests, retries and server compute are per explanation (the untimed warm-up included in the "
        "average); max abs diff: against the in-process values (served rows) or the fault-free values "
        "through the proxy (fault rows).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for field in dataclasses.fields(Settings):
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        kind = type(default[0]) if isinstance(default, list) else (str if default is None else type(default))
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=kind, default=default,
                            nargs="+" if isinstance(default, list) else None)  # fmt: skip
    settings = Settings(**vars(parser.parse_args(argv)))
    started = datetime.now(UTC).isoformat(timespec="seconds")
    load = [round(x, 2) for x in os.getloadavg()]
    result = run(settings)
    meta = metadata(settings, started)
    meta["machine"]["load_average_at_start"] = load
    folder = RESULTS / (settings.run or started[:10])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.json").write_text(json.dumps(meta, indent=2) + "\n")
    (folder / "results.json").write_text(json.dumps({"settings": meta["settings"], **result}, indent=2) + "\n")
    (folder / "results.md").write_text(render(meta, result))
    print(f"wrote {folder}")


if __name__ == "__main__":
    main()
