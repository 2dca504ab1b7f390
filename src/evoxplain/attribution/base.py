"""What every attribution method shares: inputs, targets, seeds, budget, the result, and steps.

:class:`Explainer` is the skeleton of GEEX, LIME, KernelSHAP, Occlusion, RISE and the white-box
methods: ``explain(x, target=None, *, batched=None)`` takes one input or a batch, checks the
budget for each input before querying it, derives one seed per input from the call's seed
(:func:`input_seed`) and returns an :class:`~evoxplain.Explanation` whose ``queries`` counts every
input the model saw (the prediction query included).

**Steps.** One input's explanation is a *step generator* (:meth:`Explainer.explain_steps`): each step
yields one batch of at most ``batch_size`` query inputs (a tensor ``(n, *x.shape)``, or a list of
strings for text) and receives the model's raw answers to it, the ``(n, classes)`` scores
:class:`~evoxplain.BlackBox` returns; when the explanation is complete the generator returns its
*part* (a dict: ``values``, ``target``, ``score``, and ``baseline_score``, ``stderr``, ``tokens``
where the method has them). Noise is drawn and accumulators updated inside the generator, in
place, so its memory is bounded by the batch size (see :mod:`.geex` for the one exception, a
block of noise). :meth:`Explainer.explain` drives one input at a time::

    steps = explainer.explain_steps(x, target, seed)  # nothing is queried yet
    batch = next(steps)
    while True:
        answers = blackbox(batch)                     # raw scores, one row per query
        try:
            batch = steps.send(answers)
        except StopIteration as done:
            part = done.value
            break

A scheduler may instead advance the generators of several inputs together and send their
batches in one model call (rows concatenated, answers split back in the same order): every
generator still gets exactly its own rows, so the noise and the sums are those of ``explain``;
only the model's float rounding may differ where a model's answer depends on what shares its
batch. :meth:`Explainer.assemble` turns the parts into one :class:`~evoxplain.Explanation`, and
:func:`input_seed` gives input ``i`` the seed ``explain`` would. Methods whose queries Captum
makes (LIME, KernelSHAP, Occlusion, the white-box ones) have ``stepwise = False``: their
generator runs the whole explanation at the first ``next()``, querying the model itself, and
yields nothing.

A subclass sets ``name``, implements ``cost(x)`` (queries for one input, known in advance) and
either ``_steps(x, target, seed)`` (a step generator; ``stepwise = True``) or
``_explain_one(x, target, seed)`` (returning the part directly).

Example:
    >>> from evoxplain.attribution import Occlusion
    >>> exp = Occlusion(model, window=16, stride=8).explain(images)     # (2, 3, 224, 224)
    >>> exp.values.shape, exp.queries                                   # 1 + 27 × 27 each
    (torch.Size([2, 3, 224, 224]), 1460)
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Generator, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..baseline import Baseline
from ..blackbox import BATCH_SIZE, BlackBox, as_blackbox
from ..constraints import Boolean, Integer, OneOf, Optional, check_all
from ..diagnostics import diagnose
from ..errors import EvoxplainError, InvalidInputError, ModelOutputError
from ..explanation import Explanation
from ..fitness import FITNESSES, fitness_fn
from ..memory import check_fits
from ..progress import shown

Steps = Generator[Any, torch.Tensor, dict[str, Any]]
"""One input's explanation: yields query batches, receives the model's raw answers, returns its part."""

COMMON = {
    "fitness": OneOf(*FITNESSES),
    "batch_size": Optional(BATCH_SIZE),
    "seed": Optional(Integer(low=0)),
    "progress": Boolean(),
}
"""The constraints of the settings every explainer takes."""


class Explainer:
    """Base class: one ``explain`` for single inputs and batches (see the module docstring).

    Args:
        model: anything :class:`~evoxplain.BlackBox` accepts, or a ``BlackBox``.
        baseline: x̊, what "absent" means: a number, ``"mean"``, ``"blur"`` or a tensor.
        fitness: the explained score: ``"prob"``, ``"logit"``, ``"logprob"`` or ``"entropy"``.
        batch_size: the most inputs per model call; defaults to the BlackBox's.
        seed: seeds the per-call randomness; None draws one and records it in
            ``Explanation.params["seed"]``.
    """

    name = "Explainer"
    access = "black-box"
    text = False
    """Whether the method explains strings too (GEEX does, with Bernoulli masks over tokens)."""
    stepwise = False
    """Whether :meth:`explain_steps` yields the queries (True) or the method queries the model itself."""

    def __init__(
        self,
        model: Any,
        *,
        baseline: Baseline = 0.0,
        fitness: str = "prob",
        batch_size: int | None = None,
        seed: int | None = None,
        progress: bool = False,
    ):
        checked = check_all(COMMON, fitness=fitness, batch_size=batch_size, seed=seed, progress=progress)
        if isinstance(baseline, str) and baseline not in ("mean", "blur") and not self.text:
            raise InvalidInputError(f"baseline must be a number, 'mean', 'blur' or a tensor, not {baseline!r}")
        check_baseline(baseline)
        self.fitness = fitness_fn(fitness)
        self.blackbox: BlackBox = as_blackbox(model)
        self.batch_size = checked["batch_size"] or self.blackbox.batch_size
        self.baseline = baseline
        self.seed = checked["seed"]
        self.progress = checked["progress"]
        self._bar: Any = None
        self._unchecked: list[int] = []
        self._params: dict[str, Any] = {
            "baseline": baseline if not isinstance(baseline, (torch.Tensor, np.ndarray)) else "tensor",
            "fitness": fitness,
            "access": self.access,
        }

    # -- to implement -------------------------------------------------------------------------

    def cost(self, x: Any) -> int:
        """Queries one explanation of ``x`` sends, the prediction query included."""
        raise NotImplementedError

    def step_bytes(self, x: torch.Tensor) -> int:
        """About the most memory one step of explaining ``x`` holds, in bytes (the queries of a
        batch and their perturbations; the model's own activations are not counted)."""
        return 3 * self.batch_size * x.numel() * x.element_size()

    def _explain_one(self, x: Any, target: int | None, seed: int) -> dict[str, Any]:
        raise NotImplementedError

    def _steps(self, x: Any, target: int | None, seed: int) -> Steps:
        """The default for methods that query the model themselves: no step to yield."""
        part = self._explain_one(x, target, seed)
        yield from ()
        return part

    @property
    def method(self) -> str:
        """The name recorded in :attr:`Explanation.method`."""
        return self.name

    # -- public -------------------------------------------------------------------------------

    def explain(
        self,
        x: torch.Tensor | np.ndarray,
        target: int | Sequence[int] | None = None,
        *,
        batched: bool | None = None,
    ) -> Explanation:
        """Explain one input or a batch.

        Args:
            x: an image ``(C, H, W)``, a row ``(D,)``, any tensor of features, or a batch of
                them (``(N, C, H, W)``, ``(N, D)``); for methods that explain text (GEEX), a
                string or a list of strings.
            target: the class to explain (one for all, or one per input); the predicted class
                when None. Every target is checked before the first query when the model's
                number of classes is known (``BlackBox(num_classes=...)``, or an earlier
                answer), else all of them on the first answer.
            batched: whether ``x`` is a batch; inferred when None: 2-D and 4-D or more are
                batches, 1-D and 3-D single inputs (pass ``(1, H, W)`` for one gray image).

        Returns:
            An :class:`~evoxplain.Explanation` whose ``values`` have ``x``'s shape. If a later
            input of a batch fails, the error's ``completed`` holds the explanations finished
            before it.
        """
        items, batched = self._items(x, batched)
        targets = as_targets(target, len(items))
        self._unchecked = [t for t in targets if t is not None]
        self._check_targets()
        seed = self.seed if self.seed is not None else secrets.randbits(62)
        bb, parts, started = self.blackbox, [], time.perf_counter()
        total = sum(self.cost(item) for item in items)
        shown_bar = shown(self.progress)
        with bb.meter() as meter, tqdm(total=total, disable=not shown_bar, unit="query", desc=self.method) as bar:
            self._bar = bar
            for i, item in enumerate(items):
                try:
                    if bb.journal is None:  # with a journal, answers known before cost nothing: each send is checked
                        bb.check_budget(self.cost(item), what=f"{self.method} of input {i} of {len(items)}")
                    parts.append(self.drive(self.explain_steps(item, targets[i], input_seed(seed, i))))
                except EvoxplainError as err:  # what finished is not lost
                    if parts:
                        err.completed = self.assemble(parts, queries=meter.queries, seed=seed, batched=True,
                                                      seconds=time.perf_counter() - started)  # fmt: skip
                    raise
        explanation = self.assemble(parts, queries=meter.queries, seconds=time.perf_counter() - started, seed=seed,
                                    batched=batched)  # fmt: skip
        if not isinstance(items[0], str):  # kept for pictures and reports; the caller's tensor is not touched
            explanation.input = (torch.stack(items) if batched else items[0].clone()).detach().cpu()
        gaussian = getattr(self, "distribution", "gaussian") == "gaussian"
        diagnose(explanation, items, sigma=getattr(self, "sigma", None) if gaussian else None)
        return explanation

    def explain_steps(self, x: Any, target: int | None = None, seed: int = 0) -> Steps:
        """One input's explanation as a step generator (see the module docstring).

        ``x`` is one input as :meth:`explain` takes it (a tensor, an array or a string);
        ``seed`` the input's own seed (:func:`input_seed` of the call's). Checks the input
        (shape, values, and that a step fits in memory) before anything is queried.

        Example:
            >>> from evoxplain import GEEX
            >>> explainer = GEEX(model, queries=64, batch_size=32)
            >>> steps, sizes = explainer.explain_steps(digit, seed=0), []
            >>> batch = next(steps)
            >>> try:
            ...     while True:
            ...         sizes.append(len(batch))
            ...         batch = steps.send(explainer.blackbox(batch))
            ... except StopIteration as done:
            ...     part = done.value
            >>> sizes, part["values"].shape
            ([2, 32, 32], torch.Size([1, 28, 28]))
        """
        target = as_targets(target, 1)[0]
        if not isinstance(x, str):
            x = as_input_tensor(x, self.blackbox.device)
            self._check_input(x)
            check_fits(self.step_bytes(x), self.blackbox.device, what=f"one step of {self.method} on an input of "
                       f"shape {tuple(x.shape)}", fix=self._memory_fix(x))  # fmt: skip
        return self._steps(x, target, seed)

    def drive(self, steps: Steps) -> dict[str, Any]:
        """Drive one input's steps with this explainer's BlackBox; the part they return."""
        bb = self.blackbox
        peak = torch.zeros((), device=bb.device)
        try:
            batch = next(steps)
            while True:
                answers = bb(batch, batch_size=self.batch_size)
                self._progress(len(batch))
                del batch  # the next step's queries need not sit beside these
                self._check_targets()
                peak = torch.maximum(peak, answers.abs().amax())
                batch = steps.send(answers)
        except StopIteration as done:
            return self._finite(done.value, peak)

    def assemble(self, parts: Sequence[dict[str, Any]], *, queries: int, seconds: float, seed: int,
                 batched: bool) -> Explanation:  # fmt: skip
        """One :class:`~evoxplain.Explanation` of the parts of one input (``batched=False``) or of several."""

        def gather(key: str, stack: bool = True) -> Any:
            found = [p.get(key) for p in parts]
            if found[0] is None:
                return None
            if not batched:
                return found[0]
            return torch.stack(found) if stack else found

        text = "tokens" in parts[0]
        return Explanation(
            values=gather("values", stack=not text),
            target=gather("target", stack=False),
            queries=queries,
            seconds=seconds,
            method=self.method,
            params={**self._params, "seed": seed, **({"distribution": "bernoulli"} if text else {})},
            score=gather("score"),
            baseline_score=gather("baseline_score"),
            tokens=gather("tokens", stack=False),
            stderr=gather("stderr", stack=not text),
        )

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self._params.items() if k != "access")
        return f"{type(self).__name__}({settings})"

    # -- helpers ------------------------------------------------------------------------------

    def _items(self, x: Any, batched: bool | None) -> tuple[list[Any], bool]:
        """Split ``x`` into the inputs to explain, and say whether it was a batch."""
        if isinstance(x, str) or (isinstance(x, (list, tuple)) and len(x) > 0 and all(isinstance(t, str) for t in x)):
            if not self.text:
                raise InvalidInputError(f"{self.name} explains tensors of features; explain text with GEEX")
            return ([x], False) if isinstance(x, str) else (list(x), True)
        if batched is not None:
            Boolean().check("batched", batched)
        tensor = as_input_tensor(x, self.blackbox.device)
        if batched is None:
            batched = tensor.ndim == 2 or tensor.ndim >= 4
        if batched and (tensor.ndim < 2 or tensor.shape[0] == 0):
            raise InvalidInputError(
                f"a batch needs a leading batch dimension and inputs; got shape {tuple(tensor.shape)}"
            )
        items = list(tensor) if batched else [tensor]
        self._check_input(items[0])
        return items, batched

    def _check_input(self, x: torch.Tensor) -> None:
        """Reject input shapes the method cannot explain (override to restrict)."""

    def _memory_fix(self, x: torch.Tensor) -> str:
        return "lower batch_size, or explain a smaller input"

    def _progress(self, queries: int) -> None:
        if self._bar is not None:
            self._bar.update(queries)

    def _check_targets(self) -> None:
        """Check every target of the current call once the model's number of classes is known."""
        classes = self.blackbox.num_classes
        if classes is None or not self._unchecked:
            return
        wrong = [t for t in self._unchecked if not 0 <= t < classes]
        self._unchecked = []  # checked: nothing more to do this call
        if wrong:
            raise InvalidInputError(
                f"target {wrong[0]} is out of range: the model has {classes} classes (0..{classes - 1})"
            )

    def _ask(self, queries: Any) -> Generator[Any, torch.Tensor, torch.Tensor]:
        """Yield ``queries`` in batches of at most ``batch_size``; the answers, concatenated."""
        size = self.batch_size
        if len(queries) <= size:
            return (yield queries)
        answers = []
        for start in range(0, len(queries), size):
            answers.append((yield queries[start : start + size]))
        return torch.cat(answers)

    def _read_anchor(self, raw: torch.Tensor, target: int | None) -> tuple[int, torch.Tensor]:
        """The target (predicted if None) and the scores of the anchors' answers ``raw``."""
        classes = raw.shape[1]
        if target is None:
            target = int(raw[0].argmax())
        elif not 0 <= target < classes:
            raise InvalidInputError(
                f"target {target} is out of range: the model has {classes} classes (0..{classes - 1})"
            )
        return target, self.fitness(raw, target, self.blackbox.output).cpu()

    def _anchor(self, anchors: Any, target: int | None) -> tuple[int, torch.Tensor, torch.Tensor]:
        """Query the input (and baseline): the target (predicted if None), scores, raw outputs."""
        raw = self.blackbox(anchors, batch_size=self.batch_size)
        self._progress(len(anchors))
        self._check_targets()
        target, scores = self._read_anchor(raw, target)
        return target, scores, raw

    def _finite(self, part: dict[str, Any], peak: torch.Tensor) -> dict[str, Any]:
        """``part``, or an error naming why its values are not finite."""
        values = part["values"]
        if bool(torch.isfinite(values).all()):
            return part
        raise ModelOutputError(f"{self.method} produced values that are not finite: {self._nonfinite_cause(peak)}")

    def _nonfinite_cause(self, peak: torch.Tensor) -> str:
        """Why the values are not finite, in words (methods add what they know)."""
        fitness = self._params.get("fitness")
        if fitness != "prob":
            return (
                f"fitness={fitness!r} of the model's scores (up to {float(peak):.3g} in size) overflows float32; "
                "use fitness='prob', which is bounded, or a model whose scores stay far below 1e38"
            )
        return f"the model's scores (up to {float(peak):.3g} in size) give a non-finite {self.method} estimate"


def input_seed(seed: int, index: int) -> int:
    """The seed :meth:`Explainer.explain` gives input ``index`` of a call seeded with ``seed``.

    Example:
        >>> input_seed(0, 0) == input_seed(0, 0) != input_seed(0, 1)
        True
    """
    return int(np.random.SeedSequence([seed, index]).generate_state(1, np.uint64)[0] >> 2)


def check_baseline(baseline: Any) -> None:
    """Refuse a baseline that is a bool or a number that is not finite (a NaN would be blamed on
    the input later); tensors are checked against the input when used."""
    if isinstance(baseline, (bool, np.bool_)):
        raise InvalidInputError("baseline must be a number, 'mean', 'blur' or a tensor, not a bool")
    if isinstance(baseline, (int, float, np.number)) and not np.isfinite(baseline):
        raise InvalidInputError(f"the baseline must be finite, not {baseline!r}")


@contextlib.contextmanager
def seeded_global_rng(seed: int, device: torch.device) -> Iterator[None]:
    """Run code that draws from torch's *global* RNG (Captum does) reproducibly and harmlessly.

    Inside, the CPU generator (and ``device``'s, if it is a GPU) is seeded with ``seed``; on
    exit every one of them is restored to its state before, so no caller's random stream moves.

    Example:
        >>> with seeded_global_rng(0, torch.device("cpu")):
        ...     a = torch.rand(3)              # the same every time; torch.rand outside unaffected
    """
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.default_generator.manual_seed(seed)
        if device.type == "cuda":
            with torch.cuda.device(device):
                torch.cuda.manual_seed(seed)
        yield


def as_input_tensor(x: Any, device: torch.device) -> torch.Tensor:
    """``x`` as a finite float32 tensor on ``device``, or a clear error.

    Pixels stored as ``uint8`` or ``uint16`` are refused: their scale (0–255, 0–65535) is not the
    [0, 1] that σ and the baselines are meant for, and only the caller knows what the model takes.
    """
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "biuf":
            raise InvalidInputError(
                f"x is a numpy array of {x.dtype} (ragged rows, strings or objects?); give a numeric array whose "
                "rows all have the same length"
            )
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        raise InvalidInputError(
            f"x must be a tensor, a numpy array, a string or a list of strings, not {type(x).__name__}"
        )
    if x.ndim == 0 or x.numel() == 0:
        raise InvalidInputError(f"x must hold at least one feature; got shape {tuple(x.shape)}")
    if x.dtype in (torch.uint8, torch.uint16):
        top = 255 if x.dtype == torch.uint8 else 65535
        raise InvalidInputError(
            f"x holds {x.dtype} pixels (0-{top}), but sigma and the baselines are in the units the model takes: "
            f"give floats, x.float() / {top} for a model of [0, 1] inputs, or x.float() (and sigma in those units) "
            f"for a model of 0-{top} values"
        )
    if x.is_complex():
        raise InvalidInputError("x holds complex numbers; explain real-valued inputs")
    x = x.to(device=device, dtype=torch.float32)
    if not bool(torch.isfinite(x).all()):
        raise InvalidInputError("x contains NaN or infinite values; clean or impute them before explaining")
    return x


def as_targets(target: int | Sequence[int] | None, n: int) -> list[int | None]:
    """One target per input (None: the predicted class), or a clear error."""
    if target is None:
        return [None] * n
    if isinstance(target, torch.Tensor):
        target = target.tolist()
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        targets = [int(target)] * n
    elif (
        isinstance(target, Sequence)
        and len(target) == n
        and all(isinstance(t, (int, np.integer)) and not isinstance(t, bool) for t in target)
    ):
        targets = [int(t) for t in target]
    else:
        targets = None
    if targets is not None and all(t >= 0 for t in targets):
        return targets
    raise InvalidInputError(
        f"target must be None, a class index (>= 0), or one class index per input ({n}); got {target!r}"
    )
