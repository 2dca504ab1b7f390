"""Reproduce every item of issue 21 ("nothing runs that should not, nothing silent, nothing lost")
and say, item by item, whether this checkout still has the fault.

Run it with the checkout's own Python (the library installed from it, editable)::

    python tests/probes/issue21.py                 # a Markdown table: item, verdict, what happened
    python tests/probes/issue21.py --only 5 10     # some items

Each probe acts as a careful user or an attacker would (crafted files, mistakes, threads, a hard
memory limit) and reports ``fixed`` or ``FAULT`` with what it saw. It works on the code before the
fix (where the papers' models lived in ``evoxplain.zoo`` and the command line in ``evoxplain/cli.py``)
and after it. Memory figures are peak resident sets of a child process (Linux ``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import textwrap
import threading
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch

import evoxplain
from evoxplain import GEEX, BlackBox, EvoxplainError

ROOT = Path(evoxplain.__file__).resolve().parents[2]
WORK = Path(tempfile.mkdtemp(prefix="issue21-"))


class Payload:
    """Unpickling this writes the marker file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"echo pwned > {self.marker}",))


def outcome(call) -> str:
    """What a call did: ``clear: <message>``, ``raw <Type>: <message>`` or ``accepted``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()
    except EvoxplainError as err:
        return f"clear: {str(err)[:70]}"
    except Exception as err:  # noqa: BLE001 - what a probe is for
        return f"raw {type(err).__name__}: {str(err)[:60]}"
    return "accepted"


def model(classes: int = 4, channels: int = 3) -> torch.nn.Module:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return torch.nn.Sequential(
            torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten(), torch.nn.Linear(16 * channels, classes)
        ).eval()


def quiet(call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return call()


# -- code execution from files ----------------------------------------------------------------


def item1():
    from evoxplain import Explanation

    marker, path = WORK / "pwned1", WORK / "evil.evx"
    path.write_bytes(pickle.dumps(Payload(marker)))
    seen = outcome(lambda: Explanation.load(path))
    return not marker.exists(), f"a pickle renamed .evx: {'code ran' if marker.exists() else 'no code ran'}; {seen}"


def item2():
    marker = WORK / "pwned2"
    net = torch.nn.Linear(4, 3).eval()
    program = torch.export.export(net, (torch.rand(2, 4),), dynamic_shapes=({0: torch.export.Dim("n")},))
    torch.export.save(program, str(WORK / "ok.pt2"))
    with zipfile.ZipFile(WORK / "ok.pt2") as old, zipfile.ZipFile(WORK / "evil.pt2", "w") as new:
        for info in old.infolist():
            data = old.read(info.filename)
            if info.filename.endswith("weights/model_weights_config.json"):
                config = json.loads(data)
                next(iter(config["config"].values()))["use_pickle"] = True
                data = json.dumps(config).encode()
            elif info.filename.endswith("weights/weight_0"):
                data = pickle.dumps(Payload(marker))
            new.writestr(info, data)
    seen = outcome(lambda: BlackBox(str(WORK / "evil.pt2")))
    return (
        not marker.exists(),
        f"a .pt2 with a pickled weight: {'code ran' if marker.exists() else 'no code ran'}; {seen}",
    )


def item3():
    script = (ROOT / "benchmarks" / "adult_exemplars.py").read_text()
    unpickles = "pickle.load" in script or "pickle.loads" in script
    return not unpickles, f"benchmarks/adult_exemplars.py {'unpickles' if unpickles else 'does not unpickle'} a cache"


# -- wrong answers without a word ------------------------------------------------------------


def item4():
    w = torch.tensor([2.0, -1.0, 0.5, 1.0])
    sigmoid = lambda x: torch.sigmoid(x @ w)[:, None]  # noqa: E731 - a binary scorer, (N, 1)
    x = torch.tensor([0.3, 0.2, 0.9, 0.1])
    exp = quiet(lambda: GEEX(sigmoid, queries=200, seed=0).explain(x))
    binary = bool(exp.values.abs().sum() > 0)
    probs = torch.tensor([[0.7, 0.30001, -0.00001]])
    read = quiet(lambda: BlackBox(lambda z: probs.expand(len(z), 3)).probabilities(torch.zeros(1, 2)))[0, 1]
    return binary and abs(float(read) - 0.3) < 1e-3, (
        f"sigmoid (N, 1) scorer: values {'non-zero' if binary else 'all zero'}; probabilities with a -1e-5 "
        f"entry read as {float(read):.3f} (the model says 0.300)"
    )


def read_input(path: Path, channels: int | None = None, size=None) -> torch.Tensor:
    try:
        from evoxplain.inputs import InputSpec, load_input

        return load_input(path, InputSpec(channels, size) if channels else None)
    except ImportError:
        from evoxplain.zoo import InputSpec

        from evoxplain.cli import load_input

        return load_input(path, InputSpec(channels, size) if channels else None)[0]


def item5():
    from PIL import Image

    image = torch.rand(3, 24, 24, generator=torch.Generator().manual_seed(0))
    pixels = (image * 255).round().to(torch.uint8)
    seen = outcome(lambda: GEEX(model(), queries=64, seed=0).explain(pixels))
    ramp = np.linspace(0, 65535, 48 * 64).reshape(48, 64).astype(np.uint16)
    Image.fromarray(ramp).save(WORK / "deep.png")
    clipped = float((read_input(WORK / "deep.png") >= 1).float().mean())
    np.save(WORK / "pixels.npy", pixels.numpy())
    npy = outcome(lambda: read_input(WORK / "pixels.npy"))
    ok = seen.startswith("clear") and clipped < 0.01 and npy.startswith("clear")
    return ok, f"uint8 image to GEEX: {seen[:50]}; 16-bit PNG: {clipped:.1%} clipped at 1; uint8 .npy: {npy[:40]}"


def item6():
    def huge(x):
        big = 3e38 * torch.tanh(20 * (x.sum(1) - 2.5))
        return torch.stack([torch.zeros_like(big), big, -big], 1)

    results = []
    for fitness in ("logit", "logprob", "entropy"):
        try:
            values = quiet(
                lambda f=fitness: GEEX(huge, queries=64, fitness=f, seed=0).explain(torch.full((5,), 0.5), 1)
            )
            results.append(f"{fitness}: {'finite' if bool(torch.isfinite(values.values).all()) else 'NaN/inf values'}")
        except EvoxplainError:
            results.append(f"{fitness}: clear error")
    tiny = outcome(lambda: GEEX(model(), queries=32, sigma=1e-30, seed=0).explain(torch.rand(3, 24, 24)))
    if tiny == "accepted":
        zeros = float(GEEX(model(), queries=32, sigma=1e-30, seed=0).explain(torch.rand(3, 24, 24)).values.abs().max())
        tiny = f"accepted, values max {zeros:g}"
    from evoxplain.metrics import aopc_deletion

    zero = lambda x: torch.stack([x.flatten(1).mean(1), 1 - x.flatten(1).mean(1), torch.zeros(len(x))], 1)  # noqa: E731
    try:
        res = aopc_deletion(
            BlackBox(zero, output="probs"), torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8), target=2, stride=8
        )
        aopc = f"AOPC score {res.score}"
    except EvoxplainError:
        aopc = "AOPC: clear error"
    ok = all("NaN" not in r for r in results) and tiny.startswith("clear") and "score" not in aopc
    return ok, f"{', '.join(results)}; sigma=1e-30: {tiny[:40]}; p(target)=0: {aopc}"


def item7():
    bb = BlackBox(model(), batch_size=8)
    counts, x = [], torch.rand(3, 24, 24)

    def work():
        counts.append(GEEX(bb, queries=10, seed=0).explain(x).queries)

    threads = [threading.Thread(target=work) for _ in range(8)]
    quiet(lambda: [t.start() for t in threads] and [t.join() for t in threads])
    for t in threads:
        t.join()
    return set(counts) == {12}, f"8 threads sharing a BlackBox, 12 queries each: reported {sorted(set(counts))}"


def item8():
    bb = BlackBox(model(), batch_size=32)
    seen = outcome(lambda: GEEX(bb, batch_size=0))
    quiet(lambda: GEEX(bb, queries=8, batch_size=4, seed=0).explain(torch.rand(3, 24, 24)))
    return bb.batch_size == 32 and seen.startswith(
        "clear"
    ), f"GEEX(bb, batch_size=0): {seen[:50]}; bb.batch_size {bb.batch_size}"


def item9():
    net = torch.nn.Sequential(torch.nn.Linear(16, 10), torch.nn.Softmax(dim=1)).eval()
    failures = 0
    for seed in range(20):
        x = torch.rand(16, generator=torch.Generator().manual_seed(seed)) * 4
        try:
            quiet(lambda x=x, s=seed: GEEX(BlackBox(net, precision="bf16"), queries=40, seed=s).explain(x))
        except EvoxplainError:
            failures += 1
    return failures == 0, f"a softmax model under bf16: {failures} of 20 seeds failed"


# -- memory -----------------------------------------------------------------------------------


CHILD = textwrap.dedent(
    """
    import resource, sys, time, torch, warnings
    warnings.simplefilter("ignore")
    from evoxplain import GEEX, BlackBox
    torch.set_num_threads(1)
    h, w, batch, limit = (int(a) for a in sys.argv[1:5])
    if limit:
        size = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size + limit * 2**20, size + limit * 2**20))
    model = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten(), torch.nn.Linear(48, 3)).eval()
    x = torch.rand(3, h, w)
    start = time.perf_counter()
    try:
        exp = GEEX(BlackBox(model, batch_size=batch), queries=64, seed=0).explain(x)
        result = f"ok ({exp.queries} queries)"
    except Exception as err:
        result = f"{type(err).__name__}: {str(err)[:70]}"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{result} | peak {peak:.0f} MiB | {time.perf_counter() - start:.0f} s")
    """
)


def child(*args: int) -> str:
    run = subprocess.run([sys.executable, "-c", CHILD, *map(str, args)], capture_output=True, text=True, timeout=600)
    return run.stdout.strip() or f"died ({run.returncode}): {run.stderr.strip()[-80:]}"


def cli(*args: str, limit_mib: int = 4096, timeout: int = 120) -> str:
    code = (
        "import resource, sys; "
        f"resource.setrlimit(resource.RLIMIT_AS, ({limit_mib} * 2**20 * 4, {limit_mib} * 2**20 * 4)); "
        "from evoxplain.cli import app; sys.argv = ['evoxplain', *sys.argv[1:]]; app()"
    )
    try:
        run = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"still running after {timeout} s"
    text = (run.stderr or run.stdout).strip().splitlines()
    raw = any(line.startswith("Traceback") for line in text)
    last = text[-1] if text else ""
    return f"exit {run.returncode}, {'raw traceback: ' if raw else ''}{last[:80]}"


def item10():
    from PIL import Image

    small = child(1000, 750, 1, 0)
    limited = child(1500, 1000, 4, 2048)
    torch.jit.script(model(channels=1)).save(str(WORK / "gray.pt"))
    Image.new("L", (10000, 10000)).save(WORK / "huge.png")
    huge = cli("explain", str(WORK / "huge.png"), "--model", str(WORK / "gray.pt"), "--channels", "1",
               "--queries", "8", "--out", str(WORK / "out10"))  # fmt: skip
    Image.new("L", (14000, 14000)).save(WORK / "bomb.png")
    bomb = cli("explain", str(WORK / "bomb.png"), "--model", str(WORK / "gray.pt"), "--channels", "1",
               "--size", "24,24", "--queries", "8", "--out", str(WORK / "out10"))  # fmt: skip
    ok = "ok" in limited and "exit 2," in huge and "raw" not in huge and "exit 2," in bomb and "raw" not in bomb
    return ok, (
        f"3×1000×750, batch_size=1: {small}; 3×1500×1000 under RLIMIT_AS +2 GiB, batch_size=4: {limited}; "
        f"CLI 100-MP PNG: {huge}; CLI bomb PNG: {bomb}"
    )


# -- work lost, files half-written ------------------------------------------------------------


class Counting(torch.nn.Module):
    def __init__(self, inner, broken=None):
        super().__init__()
        self.inner, self.broken, self.seen = inner, broken, 0

    def forward(self, x):
        self.seen += len(x)
        out = self.inner(x)
        if self.broken is not None:
            out = torch.where(self.broken(x)[:, None], torch.full_like(out, float("nan")), out)
        return out


def latent_problem():
    net = torch.nn.Linear(3, 3).eval()
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[0.0, 0, 0], [3, 0, 0], [0, 3, 0]]))
        net.bias.copy_(torch.tensor([0.0, -6, -6]))
    return net


def item11():
    from evoxplain.exemplars import ExemplarSearch

    calls = {"n": 0}

    def broken(x):
        calls["n"] += 1
        return (x[:, 1] > 2) & (x[:, 0] < 0) & (calls["n"] >= 3)

    search = ExemplarSearch(
        Counting(latent_problem(), broken), lambda z: z, 3, seed=0, max_queries=3000, confidence=0.99999
    )
    try:
        results = quiet(lambda: search.run_many([2, 2, 1, 1]))
        failed = sum(bool(getattr(r, "error", "")) for r in results)
        kept = f"{failed} failed, {sum(r.converged for r in results)} converged"
    except EvoxplainError as err:
        kept = f"raised {type(err).__name__}, every search lost"
    spent = {"unknown": queries_before_a_bad_target(None), "known": queries_before_a_bad_target(4)}
    ok = "failed" in kept and spent["known"] == (0, 0, 0) and spent["unknown"][0] <= 2
    return ok, (
        f"run_many, NaN in generation 3: {kept}; queries before a bad target (GEEX batch, AOPC, run_many): "
        f"{spent['unknown']} with the class count unknown, {spent['known']} known"
    )


def queries_before_a_bad_target(classes: int | None) -> tuple[int, int, int]:
    """Inputs sent before a bad target is refused: a GEEX batch, AOPC, run_many (``classes``: told or not)."""
    from evoxplain.exemplars import ExemplarSearch
    from evoxplain.metrics import aopc_deletion

    images = torch.rand(3, 3, 24, 24)
    m, a, e = Counting(model()), Counting(model()), Counting(torch.nn.Sequential(torch.nn.Linear(3, 4)).eval())
    wrap = (lambda net: BlackBox(net, num_classes=classes)) if classes else (lambda net: net)
    outcome(lambda: GEEX(wrap(m), queries=64, seed=0).explain(images[:2], target=[0, 9]))
    outcome(lambda: aopc_deletion(wrap(a), images, images, target=9))
    outcome(lambda: ExemplarSearch(wrap(e), lambda z: z, 3, seed=0).run_many([0, 7]))
    return m.seen, a.seen, e.seen


def item12():
    try:
        from evoxplain.cli.explain import run_explain
    except ImportError:
        from evoxplain.cli import run_explain
    torch.jit.script(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3)).eval()).save(str(WORK / "flat.pt"))
    np.save(WORK / "x.npy", np.random.default_rng(0).random((1, 4, 4), dtype=np.float32))
    (WORK / "a-file").write_text("not a folder")
    load, loaded = torch.jit.load, []

    def counted(*args, **kwargs):  # the model file, loaded as usual, counting what it is sent
        loaded.append(Counting(load(*args, **kwargs)).eval())
        return loaded[-1]

    torch.jit.load = counted
    try:
        options = dict(model=str(WORK / "flat.pt"), queries=8, seed=0)
        seen = outcome(lambda: run_explain(str(WORK / "x.npy"), out=WORK / "a-file" / "out", **options))
        sent = sum(m.seen for m in loaded)
        quiet(lambda: run_explain(str(WORK / "x.npy"), out=WORK / "out12", **options))
        before = {p.name: p.read_bytes() for p in (WORK / "out12").iterdir()}
        save = np.save
        np.save = lambda *a, **k: (_ for _ in ()).throw(OSError("disk full"))
        try:
            outcome(lambda: run_explain(str(WORK / "x.npy"), out=WORK / "out12", **{**options, "seed": 1}))
        finally:
            np.save = save
        after = {p.name: p.read_bytes() for p in (WORK / "out12").iterdir()}
    finally:
        torch.jit.load = load
    mixed = sorted(name for name in before if after.get(name) != before[name])
    ok = seen.startswith("clear") and sent <= 1 and not mixed
    return ok, (
        f"--out under a file: {seen[:50]} after {sent} queries; a write that fails midway changed "
        f"{', '.join(mixed) or 'none'} of the previous run's files"
    )


def item13():
    net, x = model(), torch.rand(3, 24, 24)
    ragged = np.array([[1.0, 2.0], [3.0]], dtype=object)

    class Detaching(torch.nn.Module):
        def forward(self, z):
            return torch.from_numpy(z.detach().flatten(1)[:, :3].numpy().copy())

    meta = torch.nn.Linear(4, 3, device="meta")
    (WORK / "bad.onnx").write_bytes(b"not onnx")
    (WORK / "trunc.evx").write_bytes(b"\x00\x01")
    exp = quiet(lambda: GEEX(net, queries=8, seed=0).explain(x))
    from evoxplain import Explanation
    from evoxplain.attribution import Saliency

    def nan_generator():
        from evoxplain.exemplars import ExemplarSearch

        ExemplarSearch(latent_problem(), lambda z: torch.full((len(z), 3), float("nan")), 3, seed=0).run(1)

    cases = {
        "(N, 0) answers": lambda: GEEX(lambda z: z[:, :0], queries=8).explain(torch.rand(4)),
        "mask_size=7.0": lambda: GEEX(net, mask_size=7.0),
        "ragged object array": lambda: GEEX(torch.nn.Linear(2, 2).eval(), queries=8).explain(ragged),
        "load a missing file": lambda: Explanation.load(WORK / "missing.evx"),
        "load a truncated file": lambda: Explanation.load(WORK / "trunc.evx"),
        "save into a missing folder": lambda: exp.save(WORK / "no" / "such" / "e.evx"),
        "Saliency, not differentiable": lambda: Saliency(Detaching()).explain(x),
        "device='cuda' without CUDA": lambda: BlackBox(net, device="cuda"),
        "meta-device module": lambda: BlackBox(meta),
        "corrupt .onnx": lambda: BlackBox(str(WORK / "bad.onnx")),
        "top_tokens of an image": lambda: exp.top_tokens(),
        "budget=True": lambda: BlackBox(net, budget=True),
        "batch_size=True": lambda: BlackBox(net, batch_size=True),
        "integrated='no'": lambda: GEEX(net, integrated="no"),
        "NaN baseline": lambda: GEEX(net, queries=8, baseline=float("nan")).explain(x),
        "NaN generator output": nan_generator,
    }
    if torch.cuda.is_available():
        del cases["device='cuda' without CUDA"]
    seen = {name: outcome(call) for name, call in cases.items()}
    blamed = "input" in seen["NaN baseline"] and "baseline" not in seen["NaN baseline"]
    generator = "generator" in seen["NaN generator output"]
    clear = [name for name, s in seen.items() if s.startswith("clear")]
    accepted_np = outcome(
        lambda: GEEX(BlackBox(net, batch_size=np.int64(8)), sigma=np.float32(0.2), queries=np.int64(8))
    )
    ok = len(clear) == len(seen) and not blamed and generator and accepted_np == "accepted"
    wrong = ", ".join(f"{name} ({seen[name][:30]})" for name in seen if name not in clear)
    nan = f"NaN baseline {'blamed on the input' if blamed else 'named'}"
    return ok, (
        f"{len(clear)}/{len(seen)} clear errors{'; not: ' + wrong if wrong else ''}; {nan}; NaN generator output "
        f"{'named' if generator else 'not named'}; np.float32 sigma / np.int64 sizes: {accepted_np[:30]}"
    )


ITEMS = {i: globals()[f"item{i}"] for i in range(1, 14)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", type=int, nargs="*", help="the items to probe (default: all 13)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"evoxplain from {ROOT}\n\n| item | verdict | what happened |\n|---|---|---|")
    for number in args.only or ITEMS:
        try:
            ok, detail = ITEMS[number]()
        except Exception as err:  # noqa: BLE001 - a probe that cannot run says so
            ok, detail = False, f"the probe could not run: {type(err).__name__}: {str(err)[:100]}"
        print(f"| {number} | {'fixed' if ok else 'FAULT'} | {detail.replace('|', '/')} |", flush=True)


if __name__ == "__main__":
    main()
