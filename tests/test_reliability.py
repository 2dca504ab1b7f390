"""Nothing silent, nothing lost, memory bounded: the input scales, non-finite results, memory,
failures that keep finished work, raw errors turned into clear ones (issue 21, items 5, 6, 10-13)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from PIL import Image

from evoxplain import GEEX, BlackBox, EvoxplainError, InvalidInputError, ModelOutputError
from evoxplain.attribution import RISE, Saliency
from evoxplain.attribution.base import input_seed
from evoxplain.exemplars import ExemplarSearch
from evoxplain.inputs import InputSpec, load_input
from evoxplain.metrics import aopc_deletion, aopc_insertion


def image_model(classes: int = 4) -> torch.nn.Module:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return torch.nn.Sequential(
            torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten(), torch.nn.Linear(48, classes)
        ).eval()


class Counting(torch.nn.Module):
    """Counts the inputs it answers; ``broken(x)`` selects rows answered with NaN."""

    def __init__(self, inner, broken=None):
        super().__init__()
        self.inner, self.broken, self.seen = inner, broken, 0

    def forward(self, x):
        self.seen += len(x)
        out = self.inner(x)
        if self.broken is not None:
            out = torch.where(self.broken(x)[:, None], torch.full_like(out, float("nan")), out)
        return out


IMAGE = torch.rand(3, 20, 20, generator=torch.Generator().manual_seed(0))


# -- item 5: scales ----------------------------------------------------------------------------


def test_integer_pixels_are_refused_by_explainers_before_any_query():
    model = Counting(image_model())
    for pixels in ((IMAGE * 255).to(torch.uint8), (IMAGE.numpy() * 65535).astype(np.uint16)):
        with pytest.raises(InvalidInputError, match=r"x.float\(\) / (255|65535)"):
            GEEX(model, queries=8).explain(pixels)
    assert model.seen == 0
    rows = GEEX(torch.nn.Linear(3, 2).eval(), queries=8, seed=0).explain(np.array([1, 2, 3], dtype=np.int64))
    assert rows.values.shape == (3,)  # integer features (counts) are not pixels: explained as they are


def test_npy_pixels_are_scaled_when_the_range_is_certain_and_refused_otherwise(tmp_path):
    pixels = (np.arange(48).reshape(3, 4, 4) * 5).astype(np.uint8)
    np.save(tmp_path / "x.npy", pixels)
    scaled = load_input(tmp_path / "x.npy", InputSpec(3, (4, 4)))
    torch.testing.assert_close(scaled, torch.from_numpy(pixels / 255.0).float())
    with pytest.raises(InvalidInputError, match="0-255"):
        load_input(tmp_path / "x.npy")  # no spec: the model's range is unknown
    deep = (np.arange(16).reshape(1, 4, 4) * 4000).astype(np.uint16)
    np.save(tmp_path / "deep.npy", deep)
    torch.testing.assert_close(
        load_input(tmp_path / "deep.npy", InputSpec(1, (4, 4))), torch.from_numpy(deep / 65535.0).float()
    )


def test_sixteen_bit_images_keep_their_depth(tmp_path):
    ramp = np.linspace(0, 65535, 64 * 48).reshape(48, 64).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    x = load_input(tmp_path / "deep.png")
    assert x.shape == (1, 48, 64)
    torch.testing.assert_close(x[0], torch.from_numpy(ramp / 65535.0).float())  # not clipped at 255
    assert float((x == 1).float().mean()) < 0.01
    fitted = load_input(tmp_path / "deep.png", InputSpec(3, (24, 32)))
    assert fitted.shape == (3, 24, 32) and 0.3 < float(fitted.mean()) < 0.7 and float(fitted.max()) <= 1


def test_images_over_the_decompression_bomb_limit_are_refused_before_decoding(tmp_path, monkeypatch):
    Image.new("L", (60, 60)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)  # 3600 pixels: over the limit (a warning in Pillow)
    with pytest.raises(InvalidInputError, match="MAX_IMAGE_PIXELS"):
        load_input(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # over twice the limit: Pillow's bomb error
    with pytest.raises(InvalidInputError, match="Resize it first"):
        load_input(tmp_path / "big.png")


# -- item 6: results that are not finite ---------------------------------------------------------


@pytest.mark.parametrize("fitness", ["logit", "logprob", "entropy"])
def test_fitness_that_overflows_is_an_error_that_names_it(fitness):
    def huge(x):  # logits (0, L, −L), L = ±3e38 on either side of the input: finite, near float32's end
        big = 3e38 * torch.tanh(20 * (x.sum(1) - 2.5))
        return torch.stack([torch.zeros_like(big), big, -big], 1)

    with pytest.raises(ModelOutputError, match=f"fitness='{fitness}'"):
        GEEX(huge, queries=64, fitness=fitness, seed=0).explain(torch.full((5,), 0.5), target=1)


def test_a_sigma_below_the_input_resolution_is_refused_before_any_query():
    model = Counting(image_model())
    with pytest.raises(InvalidInputError, match="sigma=1e-30"):
        GEEX(model, queries=8, sigma=1e-30).explain(IMAGE)
    assert model.seen == 0


def test_aopc_of_a_target_the_model_gives_probability_zero_is_an_error():
    def sure(x):  # class 2 has probability exactly 0
        p = torch.stack([x.flatten(1).mean(1), 1 - x.flatten(1).mean(1), torch.zeros(len(x))], 1)
        return p

    bb = BlackBox(sure, output="probs")
    images = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    for aopc in (aopc_deletion, aopc_insertion):
        with pytest.raises(InvalidInputError, match="probability 0"):
            aopc(bb, images, torch.rand(2, 1, 8, 8), target=2, stride=8)
    assert bb.queries == 4  # the unmodified inputs only, before any curve


# -- item 10: memory bounded by the batch size -------------------------------------------------


def _drive(explainer, x, seed=0):
    steps, sizes = explainer.explain_steps(x, seed=seed), []
    batch = next(steps)
    try:
        while True:
            sizes.append(len(batch))
            batch = steps.send(explainer.blackbox(batch))
    except StopIteration as done:
        return done.value, sizes


@pytest.mark.parametrize("batch", [1, 5, 64, 100])
def test_every_step_sends_at_most_a_batch_and_the_noise_does_not_depend_on_it(batch):
    model = image_model()
    reference = {}
    for name, make in {
        "geex": lambda b: GEEX(BlackBox(model, batch_size=b), queries=130, seed=0),
        "bgeex": lambda b: GEEX(BlackBox(model, batch_size=b), queries=130, distribution="bernoulli", mask_size=5),
        "regression": lambda b: GEEX(
            BlackBox(model, batch_size=b), queries=130, distribution="bernoulli", estimator="regression", mask_size=5
        ),
        "rise": lambda b: RISE(BlackBox(model, batch_size=b), queries=70, cell=5),
    }.items():
        part, sizes = _drive(make(batch), IMAGE)
        assert max(sizes) <= batch and sum(sizes) == make(batch).cost(IMAGE)
        reference[name] = _drive(make(256), IMAGE)[0]["values"]
        torch.testing.assert_close(part["values"], reference[name], rtol=1e-4, atol=1e-6)  # rounding only
    texts = GEEX(BlackBox(lambda t: torch.tensor([[float(len(s)), 0.0] for s in t]), batch_size=batch), queries=70)
    part, sizes = _drive(texts, "one two three four")
    assert max(sizes) <= batch and sum(sizes) == 72


def test_steps_of_several_inputs_can_share_model_calls():
    """The scheduler's contract: interleave inputs' steps in one model call, get explain's noise back."""
    bb = BlackBox(Counting(image_model()), batch_size=64)
    explainer = GEEX(bb, queries=96, distribution="bernoulli", mask_size=5, seed=7)
    images = torch.rand(3, 3, 20, 20, generator=torch.Generator().manual_seed(1))
    alone = explainer.explain(images)
    steps = [explainer.explain_steps(x, seed=input_seed(7, i)) for i, x in enumerate(images)]
    batches, parts, calls = [next(s) for s in steps], [None] * 3, 0
    while any(p is None for p in parts):
        going = [i for i, p in enumerate(parts) if p is None]
        answers = bb(torch.cat([batches[i] for i in going]))  # one call for every input that goes on
        calls += 1
        start = 0
        for i in going:
            rows, start = answers[start : start + len(batches[i])], start + len(batches[i])
            try:
                batches[i] = steps[i].send(rows)
            except StopIteration as done:
                parts[i] = done.value
    together = explainer.assemble(parts, queries=bb.queries - alone.queries, seconds=0.0, seed=7, batched=True)
    torch.testing.assert_close(together.values, alone.values, rtol=1e-4, atol=1e-6)
    assert together.queries == alone.queries and calls < bb.queries // 64 + 4


def test_a_large_image_is_explained_under_a_hard_memory_limit():
    """A 3×1500×1000 image (18 MB a copy) under RLIMIT_AS = what Python and torch hold + 1 GiB:
    one block of noise would need 64 copies (1.2 GB) with a step per block; a step of a small batch
    fits. A batch that cannot fit is refused before the first query, with the figure and the fix."""
    code = textwrap.dedent(
        """
        import resource, torch
        from evoxplain import GEEX, BlackBox, InvalidInputError
        from evoxplain.memory import _read_kb
        from pathlib import Path
        used = _read_kb(Path("/proc/self/status"), "VmSize")
        limit = used + 2**30
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        torch.set_num_threads(1)
        model = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten(), torch.nn.Linear(48, 3)).eval()
        x = torch.rand(3, 1500, 1000)
        for settings in ({}, {"distribution": "bernoulli", "mask_size": 14, "estimator": "regression"}):
            bb = BlackBox(model, batch_size=4)
            exp = GEEX(bb, queries=16, seed=0, **settings).explain(x)
            assert exp.queries == 18 and bool(torch.isfinite(exp.values).all())
        bb = BlackBox(model, batch_size=512)
        try:
            GEEX(bb, queries=16, seed=0).explain(x)
        except InvalidInputError as err:
            assert bb.queries == 0 and "GB" in str(err) and "batch_size" in str(err), err
            print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


# -- item 11: failures keep finished work; settings checked before the first query --------------


def _problem():
    model = torch.nn.Linear(3, 3).eval()
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.0, 0, 0], [3, 0, 0], [0, 3, 0]]))
        model.bias.copy_(torch.tensor([0.0, -6, -6]))
    return model


def test_run_many_marks_the_search_whose_model_breaks_failed_and_the_others_finish():
    calls = {"n": 0}

    def broken(x):  # from the third generation on, latents with z1 > 2 and z0 < 0 break the model
        calls["n"] += 1
        return (x[:, 1] > 2) & (x[:, 0] < 0) & (calls["n"] >= 3)

    model = Counting(_problem(), broken)
    search = ExemplarSearch(model, lambda z: z, 3, seed=0, max_queries=3000, confidence=0.99999)
    results = search.run_many([2, 2, 1, 1])
    failed = [r for r in results if r.failed]
    assert len(results) == 4 and failed and all(r.stop_reason == "failed" and "NaN" in r.error for r in failed)
    assert all(r.generations >= 1 and bool(torch.isfinite(r.latent).all()) for r in failed)  # their work is kept
    finished = [r for r in results if not r.failed]
    assert finished and all(r.converged and r.generations >= 2 for r in finished)  # went on past the failure
    with pytest.raises(EvoxplainError, match="NaN"):
        ExemplarSearch(Counting(_problem(), lambda x: x[:, 0] > -99), lambda z: z, 3, seed=0).run(1)


def test_run_many_marks_the_search_whose_generator_breaks_failed():
    def generator(z):
        if bool((z[:, 2] > 4.9).any()):
            raise ValueError("out of range")
        return z

    results = ExemplarSearch(_problem(), generator, 3, seed=1, max_queries=2000).run_many([1, 1, 2, 2, 1, 1])
    assert any(r.failed and "out of range" in r.error for r in results)
    assert any(r.converged for r in results)


def test_a_bad_target_in_a_batch_is_found_before_any_explanation_is_made():
    model = Counting(image_model())
    images = torch.rand(3, 3, 20, 20)
    with pytest.raises(InvalidInputError, match="target 9"):
        GEEX(model, queries=64).explain(images, target=[0, 9, 1])
    assert model.seen == 2  # the first input's anchors told the class count; nothing more was sent
    known = Counting(image_model())
    with pytest.raises(InvalidInputError, match="target 9"):
        GEEX(BlackBox(known, num_classes=4), queries=64).explain(images, target=[0, 9, 1])
    assert known.seen == 0
    with pytest.raises(InvalidInputError, match=">= 0"):
        GEEX(known, queries=64).explain(images, target=[0, -1, 1])
    assert known.seen == 0


def test_a_batch_that_breaks_midway_keeps_the_explanations_finished_before():
    model = Counting(image_model(), lambda x: x.flatten(1)[:, 0] > 5)  # the third input is out of range
    images = torch.rand(3, 3, 20, 20, generator=torch.Generator().manual_seed(0))
    images[2] += 10
    with pytest.raises(ModelOutputError) as caught:
        GEEX(model, queries=32, seed=0).explain(images)
    done = caught.value.completed
    assert done is not None and len(done) == 2 and done.values.shape == (2, 3, 20, 20)
    alone = GEEX(image_model(), queries=32, seed=0).explain(images[:2])
    torch.testing.assert_close(done.values, alone.values)


def test_settings_and_targets_are_checked_before_the_first_query():
    model = Counting(image_model())
    bb = BlackBox(model, num_classes=4)
    with pytest.raises(InvalidInputError, match="cells"):  # 4900 cells: more than a regression fits
        GEEX(bb, distribution="bernoulli", estimator="regression").explain(torch.rand(1, 70, 70))
    with pytest.raises(InvalidInputError, match="out of range"):
        aopc_deletion(bb, torch.rand(2, 3, 20, 20), torch.rand(2, 3, 20, 20), target=7)
    with pytest.raises(InvalidInputError, match="out of range"):
        ExemplarSearch(bb, lambda z: z.view(-1, 3, 1, 1).expand(-1, 3, 20, 20), 3).run_many([0, 5])
    assert model.seen == 0


# -- item 12: the command line's files ----------------------------------------------------------


@pytest.fixture
def cli_model(tmp_path):
    torch.jit.script(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3)).eval()).save(
        str(tmp_path / "m.pt")
    )
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((1, 4, 4), dtype=np.float32))
    return tmp_path


def test_an_unwritable_output_folder_fails_before_any_query(cli_model, monkeypatch):
    from typer.testing import CliRunner

    from evoxplain.cli import app

    sent = []
    monkeypatch.setattr(BlackBox, "charge", lambda self, size, what=None: sent.append(size))
    (cli_model / "file").write_text("a file, not a folder")
    args = ["explain", str(cli_model / "x.npy"), "--model", str(cli_model / "m.pt"), "--queries", "8"]
    result = CliRunner().invoke(app, [*args, "--out", str(cli_model / "file" / "out")])
    assert result.exit_code == 2 and "cannot write to the output folder" in result.stderr and sent == []


def test_a_failure_while_writing_leaves_the_previous_run_whole(cli_model, monkeypatch):
    from evoxplain.cli import explain as command

    out = cli_model / "out"
    command.run_explain(cli_model / "x.npy", model=str(cli_model / "m.pt"), queries=8, out=out, seed=0)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(path, array):
        raise OSError("disk full")

    monkeypatch.setattr(command, "_save_npy", broken)
    with pytest.raises(OSError, match="disk full"):
        command.run_explain(cli_model / "x.npy", model=str(cli_model / "m.pt"), queries=8, out=out, seed=1)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no new heatmap beside old values


# -- item 13: raw errors from simple mistakes ----------------------------------------------------


def test_simple_mistakes_give_clear_errors():
    model = image_model()
    ragged = np.array([[1.0, 2.0], [3.0]], dtype=object)
    cases = [
        (lambda: GEEX(model, mask_size=7.0), "mask_size"),
        (lambda: GEEX(model, integrated="no"), "integrated must be True or False"),
        (lambda: GEEX(torch.nn.Linear(2, 2).eval(), queries=8).explain(ragged), "ragged"),
        (lambda: BlackBox(torch.nn.Linear(2, 2).eval())(ragged), "ragged"),
        (lambda: GEEX(model, queries=8).explain(IMAGE).top_tokens(), "top_tokens"),
        (lambda: GEEX(model, queries=8, baseline=float("nan")), "baseline must be finite"),
        (lambda: Saliency(NotDifferentiable()).explain(IMAGE), "no gradient"),
    ]
    for call, message in cases:
        with pytest.raises(InvalidInputError, match=message):
            call()


class NotDifferentiable(torch.nn.Module):
    def forward(self, x):
        return torch.from_numpy(x.detach().flatten(1)[:, :3].numpy().copy())


def test_a_nan_baseline_tensor_is_blamed_on_the_baseline_and_a_nan_generator_output_on_the_generator():
    with pytest.raises(InvalidInputError, match="baseline contains NaN"):
        GEEX(image_model(), queries=8, baseline=torch.full((3, 20, 20), float("nan"))).explain(IMAGE)
    nan = lambda z: torch.full((len(z), 3), float("nan"))  # noqa: E731
    with pytest.raises(ModelOutputError, match="the generator returned NaN"):
        ExemplarSearch(_problem(), nan, 3, seed=0).run(1)
