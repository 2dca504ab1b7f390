"""Models behind an endpoint: seconds per explanation in-process and through real servers.

The MNIST LeNet explained by GEEX (the library's recommended settings for 1×28×28 inputs) on test
digits: in-process, then served by MLServer 1.7.1 (JSON; it has no binary tensors) and by KServe
0.21 (JSON and the binary tensor extension), at each concurrency, with bytes per query and the
server's own compute time (from its request log); then the fastest setting through the seeded
fault proxy of the tests at each fault rate, with the largest difference from the fault-free
values. Every setting runs side by side in one run; the in-process time is measured before and
after the servers and averaged. The servers come from `.ci/build-servers` and run one torch
thread each (the client keeps the other core).

    python -m benchmarks.remote --data ../shared/data            # about 20 minutes on 2 busy cores

Results: ``benchmarks/results/remote/<run>/`` (``run.json``, ``results.json``, ``results.md``).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from benchmarks.harness import REPOSITORY, RunFolder, default_folder, main_of, option
from evoxplain import GEEX, BlackBox, recommended_settings
from evoxplain.endpoints import InferenceEndpoint

sys.path[:0] = [str(REPOSITORY / "tests" / "servers"), str(REPOSITORY / "tests")]  # the test servers and proxy

import launch  # noqa: E402
from fault_proxy import FaultProxy  # noqa: E402

SERVERS = {"mlserver": "1.7.1", "kserve": "0.21.0", "server_torch_threads": 1}


@dataclasses.dataclass
class Settings:
    """What one run measures (each a command-line option ``--name``)."""

    benchmark: ClassVar[str] = "remote"
    title: ClassVar[str] = "Models behind an endpoint: seconds per explanation"
    images: int = option(5, "MNIST test digits explained by every setting")
    queries: int = option(2000, "queries per explanation")
    concurrency: list[int] = option([1, 2, 4, 8], "requests in flight", sep=",")
    max_batch: int = option(64, "inputs per request")
    fault_rates: list[float] = option([0.1, 0.3], "shares of requests the proxy breaks", sep=",")
    retry_after: str = option("1", "the proxy's Retry-After header on 429/503")
    delay: float = option(0.1, "seconds the proxy stalls a delayed answer")
    seed: int = option(0, "seed of the first digit's explanation (then +1 per digit)")
    data: str | None = option(None, "the data folder (default ../shared/data or $EVOXPLAIN_DATA)")
    out: Path | None = option(None, "the run folder (default benchmarks/results/remote/<date>)")


class Setting:
    """One way to query the LeNet, with its BlackBox and what its explanations took."""

    def __init__(self, name: str, model: Any, upstream=None, **about: Any):
        self.name, self.bb, self.server, self.about = name, BlackBox(model), upstream, about
        self.seconds: list[float] = []
        self.values: list[torch.Tensor] = []
        self.server_seconds = 0.0

    def explain(self, digit: torch.Tensor, seed: int, settings: Settings, timed: bool = True) -> None:
        before = len(self.server.requests("lenet")) if self.server is not None else 0
        options = recommended_settings((1, 28, 28), settings.queries)
        started = time.perf_counter()
        exp = GEEX(self.bb, queries=settings.queries, seed=seed, **options).explain(digit)
        if timed:
            self.seconds.append(time.perf_counter() - started)
            self.values.append(exp.values)
        if self.server is not None:
            self.server_seconds += sum(line["seconds"] for line in self.server.requests("lenet")[before:])

    def row(self, reference: Setting | None, in_process: float) -> dict[str, Any]:
        bb, runs = self.bb, len(self.seconds) + 1  # the warm-up too
        median = float(np.median(self.seconds))
        values = torch.stack(self.values)
        return {
            "setting": self.name,
            **self.about,
            "seconds": median,
            "seconds_mean": float(np.mean(self.seconds)),
            "ratio": median / in_process,
            "requests_per_explanation": bb.requests / runs,
            "retries_per_explanation": bb.retries / runs,
            "sent_per_explanation": bb.sent / runs,
            "bytes_per_query": bb.bytes_sent / bb.sent if bb.sent else 0.0,
            "server_seconds": self.server_seconds / runs if self.server is not None else None,
            "max_abs_diff": None if reference is None else float((values - torch.stack(reference.values)).abs().max()),
        }


def side_by_side(settings_list: list[Setting], digits: torch.Tensor, settings: Settings) -> None:
    """Every setting explains every digit, in turns (a warm-up first), so the load of the machine
    falls on all of them alike."""
    for setting in settings_list:
        setting.explain(digits[0], settings.seed, settings, timed=False)  # connections, first answers
    for i, digit in enumerate(digits):
        for setting in settings_list:
            setting.explain(digit, settings.seed + i, settings)
        print(f"digit {i + 1}/{len(digits)} explained in {len(settings_list)} settings", flush=True)


def phases(settings: Settings) -> dict[str, Any]:
    """Phase 1: in-process and every served setting, side by side; phase 2: in-process, the
    fastest served setting, and the same through the fault proxy at 0 % and each fault rate."""
    from evoxplain_zoo.data import load_mnist
    from evoxplain_zoo.models.lenet import load_lenet

    if settings.data:
        os.environ["EVOXPLAIN_DATA"] = settings.data
    digits = load_mnist("test")[0][: settings.images]
    lenet = load_lenet("mnist")
    os.environ["EVOXPLAIN_SERVER_THREADS"] = "1"
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        torch.jit.script(lenet).save(str(root / "lenet.pt"))
        (root / "mlserver").mkdir(), (root / "kserve").mkdir()
        servers = {
            "mlserver": launch.start_mlserver(root / "mlserver", root / "lenet.pt"),
            "kserve": launch.start_kserve(root / "kserve", root / "lenet.pt"),
        }
        try:
            served = phase_one(servers, lenet, digits, settings)
            faults = phase_two(servers, lenet, served, digits, settings)
        finally:
            for server in servers.values():
                launch.stop(server.process)
    return {"served": served, "faults": faults}


def phase_one(servers, lenet, digits, settings: Settings) -> dict[str, Any]:
    local = Setting("in-process", lenet)
    remote = [
        Setting(
            f"{server} {'binary' if binary else 'json'} c={concurrency}",
            InferenceEndpoint(
                f"{servers[server].url}/v2/models/lenet",
                binary=binary,
                max_batch=settings.max_batch,
                concurrency=concurrency,
            ),
            servers[server],
            server=server,
            binary=binary,
            concurrency=concurrency,
        )  # fmt: skip
        for server, binary in (("mlserver", False), ("kserve", False), ("kserve", True))
        for concurrency in settings.concurrency
    ]
    side_by_side([local, *remote], digits, settings)
    in_process = float(np.median(local.seconds))
    return {"in_process_seconds": in_process, "rows": [s.row(local, in_process) for s in [local, *remote]]}


def phase_two(servers, lenet, served: dict[str, Any], digits, settings: Settings) -> dict[str, Any]:
    best = min(served["rows"][1:], key=lambda row: row["seconds"])
    server = servers[best["server"]]
    proxies = [
        FaultProxy(server.url, rate=rate, seed=settings.seed, retry_after=settings.retry_after, delay=settings.delay)
        for rate in [0.0, *settings.fault_rates]
    ]
    try:

        def through(url: str, name: str, **about: Any) -> Setting:
            endpoint = InferenceEndpoint(
                f"{url}/v2/models/lenet", binary=best["binary"], max_batch=settings.max_batch,
                concurrency=best["concurrency"], seed=settings.seed,
            )  # fmt: skip
            return Setting(name, endpoint, server, **about)

        local = Setting("in-process", lenet)
        direct = through(server.url, best["setting"], fault_rate=None)
        faulted = [
            through(p.url, f"{best['setting']} through the proxy, {p.rate:.0%} faults", fault_rate=p.rate)
            for p in proxies
        ]
        side_by_side([local, direct, *faulted], digits, settings)
        in_process = float(np.median(local.seconds))
        rows = [local.row(local, in_process), direct.row(local, in_process)]
        for proxy, setting in zip(proxies, faulted):
            row = setting.row(faulted[0], in_process)  # against the fault-free run through the proxy
            row["faulted_share"] = proxy.faulted() / max(len(proxy.log), 1)
            row["ratio_to_fault_free"] = row["seconds"] / float(np.median(faulted[0].seconds))
            rows.append(row)
    finally:
        for proxy in proxies:
            proxy.stop()
    return {"in_process_seconds": in_process, "rows": rows}


# -- metadata and files ----------------------------------------------------------------------------


def render(results: dict[str, Any]) -> list[str]:
    """The tables of ``results.md`` (below the harness's metadata header)."""
    settings = results["settings"]
    lines = [
        "MLServer 1.7.1 and KServe 0.21 with one torch thread each; the client keeps the other core.",
        "",
        "GEEX with the recommended settings for 1×28×28 inputs (Bernoulli masks of 14×14 cells), "
        f"{settings['queries']} queries per explanation, on the first {settings['images']} "
        "MNIST test digits; every setting of a table explains every digit in turns (side by side). Seconds: "
        "the median per explanation; requests, retries and server compute per explanation.",
    ]
    for title, part, diff in (
        ("Served, side by side with in-process", results["served"], "max abs diff from in-process"),
        ("Faults, side by side with in-process", results["faults"], "max abs diff from the fault-free run"),
    ):
        lines += [
            "",
            f"## {title}",
            "",
            f"In-process: {part['in_process_seconds']:.3f} s per explanation.",
            "",
            "| setting | s / explanation | × in-process | requests | retries | bytes / query | server compute s "
            f"| {diff} |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in part["rows"]:
            server = "" if row["server_seconds"] is None else f"{row['server_seconds']:.3f}"
            lines.append(
                f"| {row['setting']} | {row['seconds']:.3f} | {row['ratio']:.2f} | "
                f"{row['requests_per_explanation']:.1f} | {row['retries_per_explanation']:.1f} | "
                f"{row['bytes_per_query']:.0f} | {server} | {row['max_abs_diff']:.1e} |"
            )
    faulted = [row for row in results["faults"]["rows"] if row.get("faulted_share") is not None]
    lines += ["", "Share of requests faulted: " + ", ".join(
        f"{row['fault_rate']:.0%} asked → {row['faulted_share']:.0%} ({row['ratio_to_fault_free']:.2f}× the "
        "fault-free time through the proxy)" for row in faulted
    ) + "."]  # fmt: skip
    return lines


def run(settings: Settings) -> Path:
    """Run the benchmark into its folder (written when it finishes: the servers' phases are one piece)."""
    out = settings.out or default_folder(settings, time.strftime("%Y-%m-%d"))
    folder = RunFolder(out, settings, render=render)
    folder.meta["servers"] = SERVERS
    folder.save(status="measuring")
    folder.results.update(phases(settings))
    folder.finish()
    print(f"wrote {folder.folder}")
    return folder.folder


def main(argv: list[str] | None = None) -> Path:
    return main_of(Settings, run, argv)


if __name__ == "__main__":
    main()
