"""Explaining a dataset at scale: shared model calls, Ray's overhead, the cost of resumption.

On 200 MNIST test digits with the shipped LeNet (and a handful of ImageNet samples with
EfficientNet-Lite0), side by side in one run on this machine:

* one input at a time (``share=1``) against the local engine's shared calls (``share=8``);
* the Ray engine with 1 and 2 actors against the local engine on the same cores (a local Ray
  cluster of ``--cpus`` CPUs, started before the timed runs; every process and actor with
  ``--threads`` torch threads, one input at a time);
* a run killed (SIGKILL) at about half and resumed against an uninterrupted one: the inputs
  redone and the values (they must be equal).

Then a projection (computed, not measured) of the GPU-hours to explain 1M ImageNet images at 1000
and 5000 queries on 1, 8 and 64 GPUs, from the seconds per explanation measured on one H200 in
``benchmarks/results/gpu_speed/h200/results.json``.

    OMP_NUM_THREADS=1 python -m benchmarks.dataset_scale --data ../shared/data

One torch thread per process: on a machine shared with other work, two OpenMP threads in the
main thread made a LeNet call several times slower (spinning threads waiting on each other).

Results: ``benchmarks/results/dataset_scale/<run>/`` (``run.json``, ``results.json``, ``results.md``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from benchmarks.harness import REPOSITORY, RunFolder, default_folder, main_of, option, torch_threads
from evoxplain import recommended_settings
from evoxplain.dataset import RayOptions, explain_dataset, read_results
from evoxplain.dataset.shards import shard_files

GPU_SPEED = "benchmarks/results/gpu_speed/h200/results.json"
IMAGES = 1_000_000


@dataclass
class Settings:
    """The digits and ImageNet samples explained, the queries, the shared and Ray runs' sizes."""

    benchmark: ClassVar[str] = "dataset_scale"
    title: ClassVar[str] = "Explaining a dataset at scale: shared calls, Ray, resumption"
    data: str = option("../shared/data", "the shared data folder")
    digits: int = option(200, "MNIST test digits (the first ones)")
    imagenet: int = option(2, "ImageNet samples (0: none)")
    imagenet_queries: int = option(500, "queries per ImageNet explanation")
    queries: int = option(1000, "queries per explanation")
    share: int = option(8, "inputs side by side in the shared runs")
    shard: int = option(25, "inputs per shard")
    cpus: int = option(2, "CPUs of the Ray cluster")
    threads: int = option(1, "torch threads of each process and actor")
    repeats: int = option(2, "alternating repeats of one at a time and shared")
    out: Path | None = option(None, "the run folder (default benchmarks/results/dataset_scale/<date>)")


def cpu_seconds() -> float:
    """CPU seconds used so far by this process and every process it started (a Ray cluster's too):
    user and system time, with that of their ended children (``/proc``)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents, used = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        used[pid] = sum(int(v) for v in fields[11:15]) / tick
    mine, total, frontier = {os.getpid()}, 0.0, [os.getpid()]
    while frontier:
        pid = frontier.pop()
        total += used.get(pid, 0.0)
        children = [child for child, parent in parents.items() if parent == pid and child not in mine]
        mine.update(children)
        frontier += children
    return total


def timed(label: str, **run: Any) -> dict[str, Any]:
    """One ``explain_dataset`` run into a fresh folder: inputs per second and per CPU second (of
    every process of the engine: the machine is shared, so CPU time says what each engine cost),
    with the machine's load."""
    shutil.rmtree(run["out"], ignore_errors=True)
    load, cpu, start = os.getloadavg()[0], cpu_seconds(), time.perf_counter()
    result = explain_dataset(progress=False, **run)
    seconds = time.perf_counter() - start
    times = sorted(p.stat().st_mtime for p in shard_files(Path(run["out"]) / "results"))
    after_first = result.explained_now - min(run["shard_size"], result.explained_now)
    steady = after_first / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else None
    row = {
        "run": label, "inputs": result.explained_now, "seconds": round(seconds, 2),
        "inputs_per_s": round(result.explained_now / seconds, 3), "queries": result.summary["queries"],
        "steady_inputs_per_s": None if steady is None else round(steady, 3),
        "failed": result.summary["failed"], "load_1min_before": load,
        "cpu_seconds": round(cpu_seconds() - cpu, 2),
    }  # fmt: skip
    row["inputs_per_cpu_s"] = round(result.explained_now / max(row["cpu_seconds"], 1e-9), 3)
    print(json.dumps(row), flush=True)
    return row


def values_by_id(out: Path) -> dict[str, np.ndarray]:
    return {r["id"]: np.asarray(r["values"], np.float32) for r in read_results(out).to_pylist()}


def largest_difference(a: Path, b: Path) -> float:
    va, vb = values_by_id(a), values_by_id(b)
    assert va.keys() == vb.keys()
    return max(float(np.abs(va[i] - vb[i]).max()) for i in va)


KILLABLE = """
import sys, torch
import numpy as np
from evoxplain.dataset import explain_dataset
from evoxplain.plugins import builtin_model
settings = {settings!r}
x = torch.from_numpy(np.load(sys.argv[2]))
explain_dataset(builtin_model("lenet-mnist").load(), x, sys.argv[1], settings=settings, shard_size={shard},
                progress=False, blackbox={{"output": "logits"}}, model_name="lenet-mnist")
"""


def resumption(x: torch.Tensor, settings: dict, shard: int, work: Path, whole: dict) -> dict[str, Any]:
    """A run killed (SIGKILL) once about half its shards are written, then resumed."""
    np.save(work / "digits.npy", x.numpy())
    script = work / "killable.py"
    script.write_text(KILLABLE.format(settings=settings, shard=shard))
    out = work / "killed"
    shutil.rmtree(out, ignore_errors=True)
    child = subprocess.Popen([sys.executable, str(script), str(out), str(work / "digits.npy")])
    half = len(x) // shard // 2
    while len(shard_files(out / "results")) < half and child.poll() is None:
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    written = read_results(out).num_rows
    start = time.perf_counter()
    resumed = explain_dataset(
        whole["model"], x, out, settings=settings, shard_size=shard, progress=False, blackbox={"output": "logits"},
        model_name="lenet-mnist",
    )  # fmt: skip
    seconds = time.perf_counter() - start
    rate = whole["row"]["inputs_per_s"]
    return {
        "written_when_killed": written, "resumed_inputs": resumed.explained_now, "skipped": resumed.skipped,
        "redone_written_inputs": written - resumed.skipped, "most_lost_in_flight": shard,
        "resumed_seconds": round(seconds, 2), "resumed_inputs_per_s": round(resumed.explained_now / seconds, 3),
        "uninterrupted_inputs_per_s": rate, "all_ids_once": resumed.summary["inputs"] == len(x),
        "largest_difference_to_uninterrupted": largest_difference(out, whole["out"]),
    }  # fmt: skip


def projection() -> dict[str, Any]:
    """GPU-hours for 1M ImageNet images from the seconds per explanation measured on one H200 with the
    default settings at 5000 queries (the fastest precision and batch size measured)."""
    measured = json.loads((REPOSITORY / GPU_SPEED).read_text())
    default = recommended_settings((3, 224, 224), 5000)  # the settings a run at 5000 queries gets
    best = min(
        (
            e
            for e in measured["explanations"]
            if e["method"] == "GEEX" and e["settings"]["mask_size"] == default["mask_size"][0]
        ),
        key=lambda e: e["seconds"],
    )
    per_query = best["seconds"] / best["queries"]
    forward = max(f["inputs_per_s"] for f in measured["forward"])
    rows = []
    for queries in (1000, 5000):
        gpu_hours = IMAGES * (queries + 2) * per_query / 3600
        model_hours = IMAGES * (queries + 2) / forward / 3600
        for gpus in (1, 8, 64):
            wall, model = round(gpu_hours / gpus, 2), round(model_hours / gpus, 2)
            row = {"queries": queries, "gpus": gpus, "gpu_hours": round(gpu_hours, 1), "wall_hours": wall}
            rows.append({**row, "model_alone_wall_hours": model})
    source = {"file": GPU_SPEED, "machine": measured["machine"], "settings": best["settings"]}
    for key in ("batch_size", "precision", "queries"):
        source[key] = best[key]
    source.update(seconds_per_explanation=best["seconds"], model_inputs_per_s=forward)
    return {"source": source, "rows": rows}


def run(settings: Settings) -> dict[str, Any]:
    """Every measurement of the module docstring, into one run folder; its results."""
    os.environ["EVOXPLAIN_DATA"] = str(Path(settings.data).resolve())
    folder = RunFolder(settings.out or default_folder(settings, time.strftime("%Y-%m-%d")), settings, render=markdown)
    folder.meta["omp_num_threads"] = os.environ.get("OMP_NUM_THREADS")
    work = Path(tempfile.mkdtemp(prefix="dataset-scale-"))
    try:
        with torch_threads(settings.threads):
            sections = measure(settings, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    folder.rows.extend(sections.pop("lenet") + sections.pop("imagenet", []))
    folder.results.update(sections)
    folder.finish()
    return folder.results


def main(argv: list[str] | None = None) -> Any:
    return main_of(Settings, run, argv)


def measure(args: Settings, work: Path) -> dict[str, Any]:
    from evoxplain_zoo.data import load_mnist

    from evoxplain.plugins import builtin_model

    x = load_mnist("test")[0][: args.digits]
    lenet = builtin_model("lenet-mnist").load()
    settings = {"queries": args.queries, **recommended_settings(tuple(x.shape[1:]), args.queries)}
    common = {"model": lenet, "inputs": x, "settings": settings, "shard_size": args.shard,
              "blackbox": {"output": "logits"}, "model_name": "lenet-mnist"}  # fmt: skip
    for share in (1, args.share):  # warm-up: first calls of each batch shape, not timed
        explain_dataset(**{**common, "inputs": x[:8]}, share=share, out=work / f"warm{share}", progress=False)
    rows = []
    for repeat in range(args.repeats):
        rows.append(timed(f"one at a time #{repeat + 1}", **common, share=1, out=work / "alone"))
        rows.append(
            timed(f"shared calls ({args.share}) #{repeat + 1}", **common, share=args.share, out=work / "shared")
        )
    difference = largest_difference(work / "alone", work / "shared")
    alone_model = model_alone(lenet, x, batch_sizes=(2, 32, 256, 2048))
    whole = {"model": lenet, "out": work / "alone", "row": rows[-2]}
    rows += ray_rows(args, common, work)
    sections = {"lenet": rows, "shared_vs_alone_largest_difference": difference, "model_alone": alone_model,
                "resumption": resumption(x, settings, args.shard, work, whole)}  # fmt: skip
    if args.imagenet:
        sections["imagenet"] = imagenet_rows(args, work)
    sections["projection"] = projection()
    return sections


def model_alone(model: torch.nn.Module, x: torch.Tensor, batch_sizes: tuple[int, ...]) -> dict[str, Any]:
    """The model's own microseconds per query at each batch size (the same 2048 queries, sent in
    calls of that size, twice in turns): what sharing calls can gain at most."""
    queries = x[:1].expand(2048, -1, -1, -1).clone() + 0.01 * torch.randn(2048, *x.shape[1:])
    best = dict.fromkeys(batch_sizes, float("inf"))
    with torch.inference_mode():
        for _ in range(2):
            for size in batch_sizes:
                start = time.perf_counter()
                for chunk in queries.split(size):
                    model(chunk)
                best[size] = min(best[size], time.perf_counter() - start)
    row = {"run": "model alone", "microseconds_per_query": {str(k): round(v / 2048 * 1e6, 1) for k, v in best.items()}}
    print(json.dumps(row), flush=True)
    return row


def ray_rows(args: Settings, common: dict, work: Path) -> list[dict[str, Any]]:
    """The Ray engine with 1 and 2 actors on a local cluster of ``args.cpus`` CPUs, and the local
    engine again beside them."""
    import ray

    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    try:
        reading = 0.25  # CPUs left to Ray Data's reading tasks
        rows = [timed("local engine, beside ray", **common, share=1, out=work / "local")]
        for actors in (1, 2):
            per_actor = (args.cpus - reading) / actors
            options = RayOptions(actors=actors, cpus_per_actor=per_actor, torch_threads=args.threads)
            label = f"ray, {actors} actor{'s' if actors > 1 else ''} x {per_actor:g} CPUs"
            row = timed(label, **common, share=1, engine="ray", ray=options, out=work / f"ray{actors}")
            row["largest_difference_to_local"] = largest_difference(work / f"ray{actors}", work / "local")
            rows.append(row)
        return rows
    finally:
        ray.shutdown()


def imagenet_rows(args: Settings, work: Path) -> list[dict[str, Any]]:
    """EfficientNet-Lite0 on the first ``args.imagenet`` sample photos (a folder of JPEGs)."""
    from evoxplain.plugins import builtin_model

    folder = work / "imagenet"
    folder.mkdir(exist_ok=True)
    images = sorted((Path(os.environ["EVOXPLAIN_DATA"]) / "imagenet_samples" / "images").iterdir())
    for path in images[: args.imagenet]:
        shutil.copy(path, folder / path.name)
    entry = builtin_model("efficientnet-lite0")
    from evoxplain.dataset import open_source

    source = open_source(folder, spec=entry.spec)
    queries = args.imagenet_queries
    settings = {"queries": queries, **recommended_settings((3, 224, 224), queries)}
    common = {"model": entry.load(), "inputs": source, "settings": settings, "shard_size": args.shard,
              "blackbox": {"output": "logits", "batch_size": 32}, "model_name": "efficientnet-lite0"}  # fmt: skip
    return [
        timed("imagenet, one at a time", **common, share=1, out=work / "in-alone"),
        timed(f"imagenet, shared calls ({args.share})", **common, share=args.share, out=work / "in-shared"),
    ]


def markdown(results: dict) -> list[str]:
    """The body of ``results.md``: the runs, the ratios against the goals, resumption, the projection."""
    lenet = [r for r in results["rows"] if not r["run"].startswith("imagenet")]
    imagenet = [r for r in results["rows"] if r["run"].startswith("imagenet")]
    if not lenet:
        return []
    lines = [
        "## LeNet, MNIST test digits",
        "",
        "| run | inputs | seconds | inputs / s | inputs / s after the first shard | CPU seconds | inputs / CPU s "
        "| load before |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in lenet + imagenet:
        cells = (row["run"], row["inputs"], row["seconds"], row["inputs_per_s"], row["steady_inputs_per_s"])
        cells += (row["cpu_seconds"], row["inputs_per_cpu_s"], f"{row['load_1min_before']:.1f}")
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    lines += ["", *shared_lines(lenet, results), *ray_lines(lenet)]
    if len(imagenet) == 2:
        a, b = imagenet
        lines.append(f"ImageNet: shared / one at a time {b['inputs_per_s'] / a['inputs_per_s']:.2f}×.")
    r = results["resumption"]
    lines += ["", "## Resumption", "", "| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in r.items()]
    return lines + projection_lines(results["projection"])


def shared_lines(lenet: list[dict], results: dict) -> list[str]:
    """Shared calls against one at a time, and the model's own cost per query by call size."""
    alone = [r for r in lenet if r["run"].startswith("one at a time")]
    shared = [r for r in lenet if r["run"].startswith("shared calls")]
    rate = lambda rows, key="inputs_per_s": float(np.mean([r[key] for r in rows]))  # noqa: E731
    lines = [
        f"Shared calls / one at a time: **{rate(shared) / rate(alone):.2f}×** inputs per second, "
        f"{rate(shared, 'inputs_per_cpu_s') / rate(alone, 'inputs_per_cpu_s'):.2f}× inputs per CPU second (means of "
        f"{len(alone)} alternating runs each; largest difference of a value between the two: "
        f"{results['shared_vs_alone_largest_difference']:.2g}).",
    ]
    if "model_alone" in results:
        cost = results["model_alone"]["microseconds_per_query"]
        lines.append(
            "The LeNet alone, microseconds per query by the size of its calls (what sharing calls can gain at most "
            "on this machine): " + ", ".join(f"{size}: {us}" for size, us in cost.items()) + "."
        )
    return lines


def ray_lines(lenet: list[dict]) -> list[str]:
    """Each Ray run's time per input against the local engine's beside it."""
    local = next(r for r in lenet if r["run"].startswith("local engine"))
    lines = []
    for row in (r for r in lenet if r["run"].startswith("ray")):
        overhead = local["inputs_per_s"] / row["inputs_per_s"] - 1
        both = local["steady_inputs_per_s"] and row["steady_inputs_per_s"]
        steady = local["steady_inputs_per_s"] / row["steady_inputs_per_s"] - 1 if both else None
        steady_text = f", {steady:+.0%} after the first shard (actors started)" if steady is not None else ""
        lines.append(
            f"- {row['run']}: {overhead:+.0%} time per input against the local engine beside it{steady_text}; "
            f"largest difference of a value: {row['largest_difference_to_local']:.2g}."
        )
    lines.append(
        "\nCPU seconds are those of this process and the processes it started; for Ray they miss actors that "
        "ended before the count (compare them between local runs only). On a machine shared with other work, "
        'separate processes (Ray\'s actors) get more of the CPUs than one process, so "the same cores" are the '
        "same cores offered, not the same CPU time received."
    )
    return lines


def projection_lines(p: dict) -> list[str]:
    """The projection's table, labelled as computed, with the measurement it comes from."""
    lines = [
        "",
        "## Projection (computed, not measured): 1M ImageNet images",
        "",
        f"From {p['source']['seconds_per_explanation']:.3f} s per explanation at {p['source']['queries']} queries "
        f"on {p['source']['machine']} ({p['source']['precision']}, batch {p['source']['batch_size']}; "
        f"[{p['source']['file']}](../../gpu_speed/h200/results.json)), scaled by the queries, and assuming "
        "GPUs scale linearly; the last column is the model's own time alone "
        f"({p['source']['model_inputs_per_s']:.0f} inputs / s).",
        "",
        "| queries | GPUs | GPU-hours | wall hours | model alone, wall hours |",
        "|---|---|---|---|---|",
    ]
    return lines + [
        f"| {r['queries']} | {r['gpus']} | {r['gpu_hours']} | {r['wall_hours']} | {r['model_alone_wall_hours']} |"
        for r in p["rows"]
    ]


if __name__ == "__main__":
    main()
