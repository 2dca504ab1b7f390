"""What every competing attribution method shares: inputs, targets, seeds, budget, the result.

:class:`Explainer` is the skeleton of LIME, KernelSHAP, Occlusion, RISE and the white-box
methods: ``explain(x, target=None, *, batched=None)`` takes one input or a batch, checks the
budget for each input before querying it, derives one seed per input from the call's seed and
returns an :class:`~evoxplain.Explanation` whose ``queries`` counts every input the model saw
(the prediction query included), exactly as for :class:`~evoxplain.GEEX`.

A subclass sets ``name``, implements ``cost(x)`` (queries for one input, known in advance) and
``_explain_one(x, target, seed)`` returning ``{"values", "target", "score"[, "baseline_score", "stderr"]}``.

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
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..baseline import Baseline
from ..blackbox import BlackBox, as_blackbox, check_batch_size
from ..errors import InvalidInputError
from ..explanation import Explanation
from ..fitness import fitness_fn


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
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise InvalidInputError(f"seed must be a non-negative integer or None, not {seed!r}")
        if isinstance(baseline, str) and baseline not in ("mean", "blur") and not self.text:
            raise InvalidInputError(f"baseline must be a number, 'mean', 'blur' or a tensor, not {baseline!r}")
        self.fitness = fitness_fn(fitness)
        self.blackbox: BlackBox = as_blackbox(model)
        self.batch_size = self.blackbox.batch_size if batch_size is None else check_batch_size(batch_size)
        self.baseline = baseline
        self.seed = None if seed is None else int(seed)
        self.progress = progress
        self._bar: Any = None
        self._params: dict[str, Any] = {
            "baseline": baseline if not isinstance(baseline, (torch.Tensor, np.ndarray)) else "tensor",
            "fitness": fitness,
            "access": self.access,
        }

    # -- to implement -------------------------------------------------------------------------

    def cost(self, x: Any) -> int:
        """Queries one explanation of ``x`` sends, the prediction query included."""
        raise NotImplementedError

    def _explain_one(self, x: Any, target: int | None, seed: int) -> dict[str, Any]:
        raise NotImplementedError

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
                when None.
            batched: whether ``x`` is a batch; inferred when None: 2-D and 4-D or more are
                batches, 1-D and 3-D single inputs (pass ``(1, H, W)`` for one gray image).

        Returns:
            An :class:`~evoxplain.Explanation` whose ``values`` have ``x``'s shape.
        """
        items, batched = self._items(x, batched)
        targets = as_targets(target, len(items))
        seed = self.seed if self.seed is not None else secrets.randbits(62)
        bb = self.blackbox
        parts: list[dict[str, Any]] = []
        started = time.perf_counter()
        total = sum(self.cost(item) for item in items)
        with bb.meter() as meter, tqdm(total=total, disable=not self.progress, unit="query", desc=self.method) as bar:
            self._bar = bar
            for i, item in enumerate(items):
                if bb.journal is None:  # with a journal, answers known before cost nothing: each send is checked
                    bb.check_budget(
                        self.cost(item),
                        what=f"{self.method} of input {i} of {len(items)}",
                        completed=self._assemble(parts, started, meter.queries, seed, True) if parts else None,
                    )
                sub_seed = int(np.random.SeedSequence([seed, i]).generate_state(1, np.uint64)[0] >> 2)
                parts.append(self._explain_one(item, targets[i], sub_seed))
        explanation = self._assemble(parts, started, meter.queries, seed, batched)
        if not isinstance(items[0], str):  # kept for pictures and reports; the caller's tensor is not touched
            explanation.input = (torch.stack(items) if batched else items[0].clone()).detach().cpu()
        return explanation

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

    def _progress(self, queries: int) -> None:
        if self._bar is not None:
            self._bar.update(queries)

    def _anchor(self, anchors: Any, target: int | None) -> tuple[int, torch.Tensor, torch.Tensor]:
        """Query the input (and baseline): the target (predicted if None), scores, raw outputs."""
        raw = self.blackbox(anchors, batch_size=self.batch_size)
        self._progress(len(anchors))
        classes = raw.shape[1]
        if target is None:
            target = int(raw[0].argmax())
        elif not 0 <= target < classes:
            raise InvalidInputError(
                f"target {target} is out of range: the model has {classes} classes (0..{classes - 1})"
            )
        return target, self.fitness(raw, target, self.blackbox.output).cpu(), raw

    def _assemble(self, parts, started, queries, seed, batched) -> Explanation:
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
            seconds=time.perf_counter() - started,
            method=self.method,
            params={**self._params, "seed": seed, **({"distribution": "bernoulli"} if text else {})},
            score=gather("score"),
            baseline_score=gather("baseline_score"),
            tokens=gather("tokens", stack=False),
            stderr=gather("stderr", stack=not text),
        )


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
    """``x`` as a finite float32 tensor on ``device``, or a clear error."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        raise InvalidInputError(
            f"x must be a tensor, a numpy array, a string or a list of strings, not {type(x).__name__}"
        )
    if x.ndim == 0 or x.numel() == 0:
        raise InvalidInputError(f"x must hold at least one feature; got shape {tuple(x.shape)}")
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
        return [int(target)] * n
    if (
        isinstance(target, Sequence)
        and len(target) == n
        and all(isinstance(t, (int, np.integer)) and not isinstance(t, bool) for t in target)
    ):
        return [int(t) for t in target]
    raise InvalidInputError(f"target must be None, a class index, or one class index per input ({n}); got {target!r}")
