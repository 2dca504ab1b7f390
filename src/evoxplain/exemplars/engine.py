"""Shared machinery of every exemplar search: arguments, seeds, the generator, the lockstep loop.

A search method (:class:`LatentSearch` subclass) makes one :class:`SearchState` per target. A state
*asks* for the latents it wants evaluated next and is *told* the model's probabilities for them; it
keeps its own random stream, elite, query count, history and stopping rule. The loop in
:meth:`LatentSearch._drive` gathers the asks of every unfinished state (``ask_all``), runs the
generator once and the model once on all of them, and hands each state its rows (``tell_all``):
``run_many`` is lockstep batching of independent searches, and ``run`` is ``run_many`` of one. A
state class may do ``ask_all`` / ``tell_all`` as tensor operations over all its searches (ES does),
as long as every search gets the numbers it would get alone.

Seeds: a call's seed ``s`` (drawn from the OS when None, and recorded) gives search ``i`` the stream
``SeedSequence(s, spawn_key=(i,))``; ``run(t)`` is stream 0, so ``run_many([t])`` equals ``run(t)``
bit for bit. No global random state is read or written.

Example:
    >>> class MySearch(LatentSearch):            # a method is a state class and a name
    ...     method = "mine"
    ...     def _new_state(self, objective, seed, stream):
    ...         return MyState(method=self, objective=objective, seed=seed, stream=stream)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from tqdm.auto import tqdm

from ..blackbox import BlackBox, as_blackbox
from ..constraints import Integer
from ..errors import (
    EvoxplainError,
    InvalidInputError,
    ModelCallError,
    ModelOutputError,
    QueryBudgetExceeded,
)
from ..progress import shown
from .objective import Objective, stopping_rule
from .result import ExemplarResult, Generation
from .settings import SearchSettings

Latents = torch.Tensor
BROKEN = (ModelCallError, ModelOutputError)
"""What a search's generator or model can raise that ends that search alone (marked failed)."""


# -- seeds -----------------------------------------------------------------------------------


def draw_seed() -> int:
    """A fresh seed from the operating system's entropy (63 bits)."""
    return int.from_bytes(os.urandom(8), "little") >> 1


def stream_sequence(seed: int, stream: int) -> np.random.SeedSequence:
    """The independent seed sequence of search ``stream`` of a call seeded with ``seed``."""
    return np.random.SeedSequence(seed, spawn_key=(stream,))


def torch_generator(seed: int, stream: int) -> torch.Generator:
    """A CPU ``torch.Generator`` on search ``stream``'s own stream."""
    state = int(stream_sequence(seed, stream).generate_state(1, np.uint64)[0]) >> 1
    return torch.Generator().manual_seed(state)


# -- batches of generator outputs (tensors, arrays or lists of strings) -----------------------


def _concat(parts: list[Any]) -> Any:
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], torch.Tensor):
        return torch.cat(parts)
    if isinstance(parts[0], np.ndarray):
        return np.concatenate(parts)
    return [item for part in parts for item in part]


def _copy_item(batch: Any, index: int) -> Any:
    """Row ``index`` of a batch, copied (so it does not keep the whole batch alive)."""
    item = batch[index]
    if isinstance(item, torch.Tensor):
        return item.detach().clone()
    if isinstance(item, np.ndarray):
        return item.copy()
    return item


# -- one search ------------------------------------------------------------------------------


class SearchState:
    """One search's bookkeeping; subclasses say what to evaluate next (:meth:`propose`).

    The elite is the ``elite`` fittest members, fittest first, with their cached fitness and
    probabilities (and an optional per-member payload such as the ES momentum).
    """

    def __init__(self, method: LatentSearch, objective: Objective, seed: int, stream: int):
        self.method = method
        self.objective = objective
        self.seed = seed
        self.stream = stream
        self.rng = torch_generator(seed, stream)
        self.queries = 0
        self.history: list[Generation] = []
        self.elite: Latents | None = None
        self.elite_loss: torch.Tensor | None = None
        self.elite_probs: torch.Tensor | None = None
        self.elite_extra: torch.Tensor | None = None
        self.best_input: Any = None
        self.done = False
        self.converged = False
        self.queries_to_best: int | None = None
        self.stop_reason = ""
        self.error: EvoxplainError | None = None
        self.seconds = 0.0
        self._start = time.perf_counter()

    # -- what subclasses provide --

    def next_size(self) -> int:
        """How many latents (queries) the next :meth:`propose` asks for."""
        return self.method.settings.population

    def propose(self) -> Latents:
        """The latents to evaluate next, ``(next_size(), latent_dim)``."""
        raise NotImplementedError

    def select(self, latents: Latents, inputs: Any, probs: torch.Tensor, loss: torch.Tensor) -> None:
        """Update the elite with a batch just evaluated (default: keep the best ever seen)."""
        self.merge(latents=latents, inputs=inputs, probs=probs, loss=loss)

    # -- the protocol the loop uses --

    def ask(self) -> Latents | None:
        """The next latents, or None (and the state done) if a limit stops the search first."""
        return self.propose() if self.goes_on() else None

    def goes_on(self) -> bool:
        """Whether the search sends another batch; if a limit stops it first, it is finished."""
        if self.done:
            return False
        method = self.method
        if self.history and len(self.history) - 1 >= method.settings.max_generations:
            self.finish("max_generations")
            return False
        if method.settings.max_queries is not None and self.queries + self.next_size() > method.settings.max_queries:
            self.finish("max_queries")
            return False
        return True

    def tell(self, latents: Latents, inputs: Any, probs: torch.Tensor) -> None:
        """Take the model's probabilities for the latents asked; select; check the rule."""
        self.queries += len(latents)
        self.objective.bind(probs.shape[1])
        probs = probs.detach().float().cpu()
        self.select(latents=latents.detach().cpu(), inputs=inputs, probs=probs, loss=self.objective.loss(probs))
        self.record()

    # -- the same for every search of a call at once (subclasses may batch the work) --

    @classmethod
    def ask_all(cls, states: Sequence[SearchState]) -> list[tuple[SearchState, Latents]]:
        """Each unfinished search that goes on, with the latents it asks for next."""
        asks = [(state, state.ask()) for state in states if not state.done]
        return [(state, z) for state, z in asks if z is not None]

    @classmethod
    def tell_all(cls, asks: Sequence[tuple[SearchState, Latents]], inputs: Any, probs: torch.Tensor) -> None:
        """Hand each search its rows of one evaluated batch (``asks`` in the order of the rows)."""
        start = 0
        for state, z in asks:
            stop = start + len(z)
            state.tell(z, inputs[start:stop], probs[start:stop])
            start = stop

    # -- helpers --

    def merge(
        self,
        latents: Latents,
        inputs: Any,
        probs: torch.Tensor,
        loss: torch.Tensor,
        extra: torch.Tensor | None = None,
        keep_elite: bool = True,
    ) -> None:
        """Elite ∪ candidates (or candidates alone), keep the ``elite`` fittest; ties keep order."""
        old = 0 if self.elite is None or not keep_elite else len(self.elite)
        if old:
            latents = torch.cat([self.elite, latents])
            loss = torch.cat([self.elite_loss, loss])
            probs = torch.cat([self.elite_probs, probs])
            if extra is not None:
                extra = torch.cat([self.elite_extra, extra])
        keep_elites(
            [self], old=old, inputs=inputs, loss=loss[None], latents=latents[None], probs=probs[None],
            extra=None if extra is None else extra[None],
        )  # fmt: skip

    def record(self) -> None:
        """Append this generation to the history and apply the stopping rule."""
        record_all([self], self.elite_loss[None], self.elite_probs[None])

    def finish(self, reason: str) -> None:
        self.done = True
        self.stop_reason = reason
        self.seconds = time.perf_counter() - self._start

    def fail(self, error: EvoxplainError) -> None:
        """End this search because its generator or the model broke on its latents."""
        self.error = error
        self.finish("failed")

    def result(self) -> ExemplarResult | None:
        """The result so far (None before the first batch was evaluated, unless the search failed)."""
        error = "" if self.error is None else f"{type(self.error).__name__}: {self.error}"
        if self.elite is None:
            return None if self.error is None else self._failed(error)
        seconds = self.seconds if self.done else time.perf_counter() - self._start
        probs = self.elite_probs[0]
        return ExemplarResult(
            method=self.method.method,
            target=self.objective.target,
            latent=self.elite[0].clone(),
            exemplar=self.best_input,
            probabilities=probs.clone(),
            loss=float(self.elite_loss[0]),
            target_probability=float(probs[self.objective.target_class]),
            queries=self.queries,
            generations=len(self.history) - 1,
            converged=self.converged,
            converged_best=self.queries_to_best is not None,
            queries_to_best=self.queries_to_best,
            history=list(self.history),
            seconds=seconds,
            elite=self.elite.clone(),
            elite_losses=self.elite_loss.clone(),
            seed=self.seed,
            stream=self.stream,
            stop_reason=self.stop_reason or "stopped",
            params=self.method.params(),
            error=error,
        )

    def _failed(self, error: str) -> ExemplarResult:
        """The result of a search that failed before anything was found: no latent, no exemplar."""
        nothing = torch.full((self.method.latent_dim,), float("nan"))
        return ExemplarResult(
            method=self.method.method, target=self.objective.target, latent=nothing, exemplar=None,
            probabilities=torch.empty(0), loss=float("nan"), target_probability=float("nan"), queries=self.queries,
            generations=0, converged=False, converged_best=False, queries_to_best=None, history=[],
            seconds=self.seconds, elite=nothing[None], elite_losses=torch.full((1,), float("nan")), seed=self.seed,
            stream=self.stream, stop_reason="failed", params=self.method.params(), error=error,
        )  # fmt: skip

    def prior(self, n: int) -> Latents:
        """``n`` latents from the prior ``U(−u, u)^l`` on this search's stream."""
        m = self.method
        return (torch.rand(n, m.latent_dim, generator=self.rng) * 2 - 1) * m.settings.init_range


def keep_fittest(k: int, loss: torch.Tensor, *rows: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The ``k`` fittest members of each of S searches: ``(order, loss, *rows)`` cut to them, fittest first.

    ``loss`` is ``(S, N)``, each of ``rows`` ``(S, N, ...)``; ties keep the members' order (so an
    elite placed before the candidates keeps its place).

    Example:
        >>> order, loss, z = keep_fittest(1, torch.tensor([[0.3, 0.1]]), torch.tensor([[[1.0], [2.0]]]))
        >>> order.tolist(), z.tolist()
        ([[1]], [[[2.0]]])
    """
    order = torch.argsort(loss, dim=1, stable=True)[:, :k]
    searches = torch.arange(len(order))[:, None]
    return (order, *(t[searches, order] for t in (loss, *rows)))


def keep_elites(
    states: Sequence[SearchState],
    old: int,
    inputs: Any,
    loss: torch.Tensor,
    latents: torch.Tensor,
    probs: torch.Tensor,
    extra: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each search's new elite: the fittest of its ``old`` elite members followed by its candidates.

    ``loss`` is ``(S, old + n)``, ``latents``, ``probs`` and ``extra`` (a per-member payload)
    ``(S, old + n, ...)``; search ``i``'s candidates are rows ``i·n …`` of ``inputs``, from which a
    new best member's input is copied. Returns the new elites' losses ``(S, k)`` and probabilities.
    """
    n = loss.shape[1] - old
    rows = (latents, probs) + (() if extra is None else (extra,))
    order, loss, latents, probs, *extra = keep_fittest(states[0].method.settings.elite, loss, *rows)
    for i, (state, best) in enumerate(zip(states, (order[:, 0] - old).tolist())):
        state.elite, state.elite_loss, state.elite_probs = latents[i], loss[i], probs[i]
        state.elite_extra = extra[0][i] if extra else None
        if best >= 0:  # a new best: keep the very input the model saw
            state.best_input = _copy_item(inputs, i * n + best)
    return loss, probs


def record_all(states: Sequence[SearchState], loss: torch.Tensor, probs: torch.Tensor) -> None:
    """Append each search's generation to its history and apply its stopping rule.

    ``loss`` ``(S, k)`` and ``probs`` ``(S, k, C)`` are the S searches' new elites.
    """
    ok, target_probs = stopping_rule([state.objective for state in states], loss, probs)
    rows = torch.stack([loss[:, 0], loss[:, -1], target_probs[:, 0]], dim=1).tolist()
    for state, (best, worst, best_prob), first, every in zip(states, rows, ok[:, 0].tolist(), ok.all(1).tolist()):
        state.history.append(Generation(queries=state.queries, best_loss=best, worst_loss=worst, best_prob=best_prob))
        if state.queries_to_best is None and first:
            state.queries_to_best = state.queries
        if every:
            state.converged = True
            state.finish("converged")


# -- a search method -------------------------------------------------------------------------


class LatentSearch:
    """Base of the exemplar searches: checks arguments, runs the generator and the model.

    Args:
        model: anything :func:`evoxplain.as_blackbox` accepts, or a :class:`~evoxplain.BlackBox`.
        generator: a callable from latents ``(B, latent_dim)`` to a batch of model inputs (a
            ``torch.nn.Module`` is run under ``no_grad``; a function of tensors also works).
        latent_dim: ``l``, the size of the generator's latent space.
        settings: what every search shares (:class:`~evoxplain.exemplars.SearchSettings`: population,
            elite, init_range, confidence, max_loss, max_queries, max_generations, seed,
            batch_size, device); each may also be given as a keyword of the same name, which
            overrides ``settings``. A subclass declares only its own knobs, and its defaults for
            the shared ones in ``defaults``.

    A search whose generator or model breaks on its latents (an exception, NaN or infinite
    values) is marked failed (``ExemplarResult.error``, ``stop_reason="failed"``) and the other
    searches of the call finish.
    """

    method = "search"
    defaults: ClassVar[dict[str, Any]] = {}
    """This method's own defaults for the shared settings (e.g. population 1 for gradient descent)."""

    def __init__(
        self,
        model: Any,
        generator: Callable[[torch.Tensor], Any],
        latent_dim: int,
        *,
        settings: SearchSettings | None = None,
        **shared: Any,
    ):
        if not callable(generator):
            raise InvalidInputError(
                f"generator must be a callable from latents (B, latent_dim) to inputs, not {type(generator).__name__}"
            )
        self.latent_dim = Integer(low=1).check("latent_dim", latent_dim)
        self.settings = SearchSettings.of(settings, self.defaults, shared)
        self.blackbox: BlackBox = as_blackbox(model)
        self.generator = generator
        self.device = _search_device(self.settings.device, generator)

    # -- public --

    def run(self, target: Any) -> ExemplarResult:
        """Search for an exemplar of ``target`` (a class index or a probability vector); an error
        of the generator or the model is raised.

        Example:
            >>> from evoxplain.exemplars import ExemplarSearch
            >>> res = ExemplarSearch(model, generator, latent_dim=8, seed=0).run(3)
            >>> res.exemplar.shape, bool(res.probabilities[3] >= 0.95), res.queries
            (torch.Size([1, 28, 28]), True, 70)
        """
        (state,) = self._run([target], None)
        if state.error is not None:
            raise state.error
        return state.result()

    def run_many(self, targets: Iterable[Any], streams: Iterable[int] | None = None) -> list[ExemplarResult]:
        """Independent searches for several targets, batched: one model call per generation.

        Search ``i`` uses random stream ``i`` of the call's seed (or ``streams[i]`` when given), so
        ``run_many([t])`` equals ``run(t)`` and a long list of searches can be split into chunks
        that give the same results as one call. Each result counts only its own queries; a
        finished search sends no more. A search whose generator or model breaks is marked failed
        with its error (``result.error``) and the others finish; its generation is sent again
        search by search to tell which broke (the BlackBox counts both sends).

        Example:
            >>> from evoxplain.exemplars import ExemplarSearch
            >>> search = ExemplarSearch(model, generator, latent_dim=8, seed=0)
            >>> results = search.run_many(range(10))     # one exemplar per class
            >>> later = search.run_many([3, 4], streams=[3, 4])       # the same searches again
            >>> [torch.equal(a.latent, b.latent) for a, b in zip(later, results[3:5])]
            [True, True]
        """
        return [state.result() for state in self._run(targets, streams)]

    def params(self) -> dict[str, Any]:
        """Every setting of this search (for results and reports)."""
        return {"latent_dim": self.latent_dim, **self.settings.params()}

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v}" for k, v in self.params().items() if v is not None)
        return f"{type(self).__name__}({settings})"

    # -- for subclasses --

    def _new_state(self, objective: Objective, seed: int, stream: int) -> SearchState:
        raise NotImplementedError

    def _run(self, targets: Iterable[Any], streams: Iterable[int] | None) -> list[SearchState]:
        """Check the targets and streams (before any query), make the states, drive them."""
        if isinstance(targets, (torch.Tensor, np.ndarray)) and targets.ndim == 0:
            raise InvalidInputError("run_many takes a sequence of targets; use run() for one")
        targets = list(targets)
        if not targets:
            raise InvalidInputError("run_many needs at least one target")
        streams = list(range(len(targets))) if streams is None else list(streams)
        if len(streams) != len(targets):
            raise InvalidInputError(
                f"streams must be one non-negative integer per target ({len(targets)}), not {streams!r}"
            )
        streams = [Integer(low=0).check(f"streams[{i}]", s) for i, s in enumerate(streams)]
        rule = self.settings
        objectives = [Objective.parse(t, rule.confidence, rule.max_loss) for t in targets]
        if self.blackbox.num_classes is not None:
            _bind(objectives, self.blackbox.num_classes)
        seed = draw_seed() if rule.seed is None else rule.seed
        states = [self._new_state(obj, seed, i) for i, obj in zip(streams, objectives)]
        self._drive(states)
        return states

    def _drive(self, states: Sequence[SearchState]) -> None:
        """The lockstep loop: every generation, one generator call and one model call."""
        kind = type(states[0])  # one method, one kind of state
        with tqdm(total=len(states), unit="search", desc=self.method, disable=not shown()) as bar:
            while True:
                asks = kind.ask_all(states)
                if not asks:
                    return
                try:
                    self._generation(kind, asks, states)
                except BROKEN as err:  # one search's generator or model broke: find which, the others go on
                    if len(asks) == 1:
                        asks[0][0].fail(err)
                    else:
                        for ask in asks:
                            try:
                                self._generation(kind, [ask], states)
                            except BROKEN as own:
                                ask[0].fail(own)
                bar.update(sum(state.done for state in states) - bar.n)

    def _generation(self, kind: type[SearchState], asks: list[tuple[SearchState, Latents]],
                    states: Sequence[SearchState]) -> None:  # fmt: skip
        """Evaluate the latents the searches ask for, in one generator and one model call, and tell them."""
        latents = torch.cat([z for _, z in asks])
        self._check_budget(len(latents), states)
        inputs, probs = self._evaluate(latents)
        _bind([state.objective for state in states], probs.shape[1])  # every target, on the first answer
        kind.tell_all(asks, inputs, probs)

    def _check_budget(self, needed: int, states: Sequence[SearchState]) -> None:
        """Stop before a generation the model's own budget cannot pay for, keeping what was found."""
        try:
            self.blackbox.check_budget(needed, what=f"a generation of {type(self).__name__}")
        except QueryBudgetExceeded as err:
            for state in states:
                if not state.done:
                    state.finish("budget")
            err.completed = [state.result() for state in states]
            raise

    def _evaluate(self, latents: Latents) -> tuple[Any, torch.Tensor]:
        """Inputs ``G(z)`` and the model's probabilities for them, without gradients."""
        with torch.no_grad():
            inputs = self._generate(latents)
        return inputs, self.blackbox.probabilities(inputs, batch_size=self.settings.batch_size)

    def _generate(self, latents: Latents) -> Any:
        latents = latents.to(self.device)
        size = self.settings.batch_size or len(latents)
        parts = []
        for start in range(0, len(latents), size):
            chunk = latents[start : start + size]
            try:
                out = self.generator(chunk)
            except Exception as err:
                raise ModelCallError(
                    f"the generator raised {type(err).__name__} on latents of shape "
                    f"{tuple(chunk.shape)}: {err}. It must map a (batch, latent_dim) tensor to a "
                    "batch of model inputs."
                ) from err
            parts.append(_check_generated(out, len(chunk)))
        return _concat(parts)


def _bind(objectives: Sequence[Objective], classes: int) -> None:
    """Check every target against the model's number of classes (before any search goes on)."""
    for objective in objectives:
        objective.bind(classes)


def _check_generated(out: Any, n: int) -> Any:
    """The generator's output for ``n`` latents, or an error that names the generator."""
    if not hasattr(out, "__len__") or len(out) != n:
        got = len(out) if hasattr(out, "__len__") else type(out).__name__
        raise ModelOutputError(
            f"the generator returned {got} items for {n} latents; it must return one input per latent"
        )
    values = out if isinstance(out, torch.Tensor) else torch.from_numpy(out) if isinstance(out, np.ndarray) else None
    if values is not None and values.dtype.is_floating_point and not bool(torch.isfinite(values).all()):
        bad = int((~torch.isfinite(values.detach())).flatten(1).any(dim=1).sum()) if values.ndim > 1 else n
        raise ModelOutputError(
            f"the generator returned NaN or infinite values for {bad} of {n} latents; its outputs are the "
            "model's inputs: check the generator (its weights, or latents outside the range it was trained on)"
        )
    return out


def _search_device(device: str | torch.device | None, generator: Any) -> torch.device:
    """Where latents go: ``device``, else the generator's (a module's), else the CPU."""
    if device is None:
        return _module_device(generator) if isinstance(generator, torch.nn.Module) else torch.device("cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError):
        raise InvalidInputError(f"device must be a torch device, e.g. 'cpu' or 'cuda:0', not {device!r}") from None


def _module_device(module: torch.nn.Module) -> torch.device:
    for tensor in list(module.parameters()) + list(module.buffers()):
        return tensor.device
    return torch.device("cpu")
