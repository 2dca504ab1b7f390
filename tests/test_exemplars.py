"""Exemplar searches on a tiny hand-built problem whose answer is known.

Latent z ∈ R³, generator G(z) = z·M with M = [I | 1] (x = (z0, z1, z2, z0+z1+z2)), classifier
softmax(W x + b) over three classes with logits (0, 2·x0 − 14, 2·x3 − 16):

* class 0 ("background") wins on most of the prior U(−5, 5)³;
* class 1 needs z0 ≳ 8.5, *outside* the prior box: only a search that moves gets there;
* class 2 needs z0 + z1 + z2 ≳ 9.5, a corner of the box: random sampling finds it now and then.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from evoxplain.blackbox import BlackBox
from evoxplain.errors import InvalidInputError, QueryBudgetExceeded
from evoxplain.exemplars import (
    CMAESSearch,
    ExemplarResult,
    ExemplarSearch,
    GradientSearch,
    Objective,
    RandomSearch,
)
from evoxplain.exemplars.engine import torch_generator

M = torch.tensor([[1.0, 0, 0, 1], [0, 1, 0, 1], [0, 0, 1, 1]])


class LinearGenerator(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("M", M.clone())

    def forward(self, z):
        return z @ self.M


def classifier() -> torch.nn.Module:
    lin = torch.nn.Linear(4, 3)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[0.0, 0, 0, 0], [2, 0, 0, 0], [0, 0, 0, 2]]))
        lin.bias.copy_(torch.tensor([0.0, -14, -16]))
    return lin.eval()


class LoggingModel(torch.nn.Module):
    """The classifier, recording every batch it is sent."""

    def __init__(self):
        super().__init__()
        self.inner = classifier()
        self.batches: list[torch.Tensor] = []
        self.eval()

    def forward(self, x):
        self.batches.append(x.detach().clone())
        return self.inner(x)

    @property
    def sizes(self) -> list[int]:
        return [len(b) for b in self.batches]


def probs_of(latents: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return classifier()(LinearGenerator()(latents)).softmax(dim=1)


def es(model=None, **options) -> ExemplarSearch:
    return ExemplarSearch(model if model is not None else classifier(), LinearGenerator(), 3, **options)


def same(a: ExemplarResult, b: ExemplarResult) -> bool:
    return (
        torch.equal(a.latent, b.latent)
        and torch.equal(a.elite, b.elite)
        and a.history == b.history
        and a.queries == b.queries
    )


# -- Algorithm 1 ------------------------------------------------------------------------------


def test_es_reaches_a_target_outside_the_prior():
    res = es(seed=0).run(1)
    assert res.converged and res.converged_best and res.stop_reason == "converged"
    assert res.generations >= 3  # the target is not in the initial box: it had to evolve
    assert res.latent[0] > 5 and res.target_probability >= 0.95
    assert torch.allclose(res.probabilities, probs_of(res.latent[None])[0], atol=1e-6)
    assert torch.allclose(res.exemplar, res.latent @ M)  # the exemplar is G(latent)
    assert res.elite.shape == (10, 3) and bool((res.elite_losses[1:] >= res.elite_losses[:-1]).all())
    assert len(res.history) == res.generations + 1
    assert res.history[-1].queries == res.queries
    assert res.queries_to_best is not None and res.queries_to_best <= res.queries


def test_stopping_rule_is_the_worst_elite_and_not_earlier():
    res = es(seed=1).run(1)
    assert bool((probs_of(res.elite)[:, 1] >= 0.95).all())  # every elite member, not just the best
    earlier = es(seed=1, max_generations=res.generations - 1).run(1)  # same stream, one generation less
    assert not earlier.converged and earlier.stop_reason == "max_generations"
    assert earlier.queries == res.queries - 20
    assert earlier.history == res.history[:-1]
    assert not bool((probs_of(earlier.elite)[:, 1] >= 0.95).all())


def test_exact_query_counts_and_no_elite_is_queried_twice():
    model = LoggingModel()
    bb = BlackBox(model)
    res = es(bb, seed=2).run(1)
    assert model.sizes == [50] + [10 * 2] * res.generations
    assert res.queries == sum(model.sizes) == bb.queries == 50 + 20 * res.generations
    sent = torch.cat(model.batches)
    assert len(torch.unique(sent, dim=0)) == len(sent)  # cached elite fitness: nothing re-sent


def test_mutation_is_algorithm_1():
    search = es(seed=5, children=3, step=0.7, momentum=0.3)
    state = search._new_state(Objective.parse(1, 0.95, None), seed=5, stream=0)
    state.elite = torch.tensor([[1.0, 2, 3], [-1, 0, 4]])
    state.elite_extra = torch.tensor([[0.0, 0, 0], [0.5, -1, 2]])  # no momentum / momentum μ
    children = state.propose()
    noise = torch.randn(2, 3, 3, generator=torch_generator(5, 0)) * 0.7
    v0 = noise[0]  # μ = 0: v = N(0, s²)
    v1 = 0.3 * state.elite_extra[1] + 0.7 * noise[1]  # v = α μ + (1 − α) N(0, s²)
    assert torch.allclose(children, torch.cat([state.elite[0] + v0, state.elite[1] + v1]))
    assert torch.allclose(state._pending, torch.cat([v0, v1]))  # a child's momentum is its v


def test_max_queries_is_never_exceeded():
    model = LoggingModel()
    res = es(model, seed=0, max_queries=125).run(1)
    assert res.queries == sum(model.sizes) == 110  # 50 + 20 + 20 + 20; 130 would pass 125
    assert not res.converged and res.stop_reason == "max_queries"
    rnd = RandomSearch(LoggingModel(), LinearGenerator(), 3, max_queries=130, seed=0).run(1)
    assert rnd.queries == 100 and not rnd.converged  # class 1 is outside the prior


def test_blackbox_budget_stops_before_the_model_is_asked_and_keeps_the_work():
    bb = BlackBox(classifier(), budget=100)
    with pytest.raises(QueryBudgetExceeded) as info:
        es(bb, seed=0).run(1)
    assert bb.queries == 90
    (partial,) = info.value.completed
    assert partial.queries == 90 and not partial.converged


def test_same_seed_same_result_different_seed_different():
    a, b, c = es(seed=7).run(1), es(seed=7).run(1), es(seed=8).run(1)
    assert same(a, b) and a.seed == b.seed == 7
    assert not torch.equal(a.latent, c.latent)


def test_no_seed_draws_one_and_records_it():
    first = es().run(2)
    again = es(seed=first.seed).run(2)
    assert same(first, again)


def test_global_random_state_is_untouched():
    searches = [es(seed=0), CMAESSearch(classifier(), LinearGenerator(), 3, population=12, elite=4, seed=0)]
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()  # after nn.Linear's init
    for search in searches:
        search.run(2)
    assert torch.equal(torch.get_rng_state(), torch_state)
    after = np.random.get_state()
    assert after[0] == numpy_state[0] and np.array_equal(after[1], numpy_state[1]) and after[2] == numpy_state[2]


def test_momentum_and_plain_es_both_converge_and_differ():
    plain, mom = es(seed=0, momentum=0.0).run(1), es(seed=0, momentum=0.3).run(1)
    assert plain.converged and mom.converged
    assert plain.method == "ES" and mom.method == "ES-momentum"
    assert not torch.equal(plain.latent, mom.latent)


# -- run_many ---------------------------------------------------------------------------------


def test_run_many_is_lockstep_with_one_model_call_per_generation():
    model = LoggingModel()
    bb = BlackBox(model)
    results = es(bb, seed=3).run_many([0, 1, 2])
    assert [r.target for r in results] == [0, 1, 2]
    assert all(r.converged for r in results)
    assert len(model.sizes) == 1 + max(r.generations for r in results)  # one call per generation
    assert model.sizes[0] == 150
    for g, size in enumerate(model.sizes[1:], start=1):
        assert size == 20 * sum(r.generations >= g for r in results)  # finished searches stop
    assert sum(r.queries for r in results) == sum(model.sizes) == bb.queries
    for r in results:
        assert r.queries == 50 + 20 * r.generations


def test_run_many_streams_match_run():
    single = es(seed=4).run(1)
    assert same(es(seed=4).run_many([1])[0], single)  # bit for bit
    many = es(seed=4).run_many([1, 2, 1])
    assert same(many[0], single)  # stream 0 is run()'s stream (batching does not change it here)
    assert many[2].stream == 2 and not torch.equal(many[2].latent, many[0].latent)  # independent


def test_lockstep_tensor_path_equals_the_per_search_protocol(monkeypatch):
    """ES runs a lockstep generation as tensor operations over all its searches; the per-search
    ask/tell that the other methods use must give the same searches, bit for bit."""
    from evoxplain.exemplars import search as es_module
    from evoxplain.exemplars.engine import SearchState
    from evoxplain.exemplars.search import _MomentumState

    batched_generations = []
    mutate = es_module._mutate
    record = lambda states: len(states) > 1 and batched_generations.append(len(states))  # noqa: E731
    monkeypatch.setattr(es_module, "_mutate", lambda states: record(states) or mutate(states))
    calls = [  # a confidence rule with searches stopped by the query limit, a loss rule with mixed targets
        (dict(seed=6, max_queries=330), [1, 2, 0, 1, 2, 2, 1]),
        (dict(seed=7, max_loss=0.005, max_generations=9, momentum=0.6), [[0.5, 0.5, 0.0], 2, [0.2, 0.2, 0.6], 0]),
    ]
    batched = [es(**options).run_many(targets) for options, targets in calls]
    assert max(batched_generations, default=0) >= 5  # the tensor path ran, on several searches at once
    tensor_generations = len(batched_generations)
    with monkeypatch.context() as patch:
        patch.setattr(_MomentumState, "ask_all", classmethod(SearchState.ask_all.__func__))
        patch.setattr(_MomentumState, "tell_all", classmethod(SearchState.tell_all.__func__))
        one_by_one = [es(**options).run_many(targets) for options, targets in calls]
    assert len(batched_generations) == tensor_generations  # the per-search protocol never batched
    reasons = {r.stop_reason for results in batched for r in results}
    assert {"converged", "max_queries", "max_generations"} <= reasons  # every way of stopping is covered
    for a, b in zip(sum(batched, []), sum(one_by_one, [])):
        assert same(a, b) and a.stop_reason == b.stop_reason and a.queries_to_best == b.queries_to_best
        assert torch.equal(a.exemplar, b.exemplar) and torch.equal(a.elite_losses, b.elite_losses)


# -- targets and rules ------------------------------------------------------------------------


def test_probability_vector_target_with_max_loss():
    y = [0.5, 0.5, 0.0]  # the boundary between classes 0 and 1, at z0 = 7
    res = es(seed=0, max_loss=0.01).run(y)
    assert res.converged
    elite_loss = ((probs_of(res.elite) - torch.tensor(y)) ** 2).sum(dim=1)
    assert bool((elite_loss <= 0.01).all()) and torch.allclose(elite_loss, res.elite_losses, atol=1e-6)
    assert all(h.worst_loss > 0.01 for h in res.history[:-1]) and res.history[-1].worst_loss <= 0.01
    assert abs(float(res.latent[0]) - 7.0) < 0.3
    with pytest.raises(InvalidInputError, match="max_loss"):
        es(seed=0).run(y)


def test_max_loss_replaces_confidence_for_a_class_index():
    res = es(seed=0, max_loss=0.02, confidence=0.999).run(2)
    assert res.converged and res.history[-1].worst_loss <= 0.02
    assert res.target_probability < 0.999 or res.loss <= 0.02


# -- baselines --------------------------------------------------------------------------------


def test_random_search_finds_the_corner_class():
    res = RandomSearch(classifier(), LinearGenerator(), 3, max_queries=5000, seed=0).run(2)
    assert res.converged and res.queries % 50 == 0 and res.method == "random"
    assert bool((probs_of(res.elite)[:, 2] >= 0.95).all())


def test_cmaes_converges_with_one_call_per_generation():
    model = LoggingModel()
    res = CMAESSearch(model, LinearGenerator(), 3, population=20, elite=5, seed=0).run(1)
    assert res.converged and res.method == "CMA-ES"
    assert model.sizes == [20] * (res.generations + 1) and res.queries == sum(model.sizes)
    again = CMAESSearch(classifier(), LinearGenerator(), 3, population=20, elite=5, seed=0).run(1)
    assert same(res, again)


@pytest.mark.parametrize("method, lr", [("momentum", 1.0), ("adam", 0.5)])
def test_gradient_descent_converges_and_counts_forwards(method, lr):
    model = LoggingModel()
    gd = GradientSearch(model, LinearGenerator(), 3, method=method, lr=lr, population=8, seed=0)
    res = gd.run(1)
    assert res.converged and res.method == f"GD-{method}"
    assert model.sizes == [8] * (res.generations + 1) and res.queries == sum(model.sizes)
    assert res.target_probability >= 0.95


def test_gradient_search_needs_a_torch_model():
    with pytest.raises(InvalidInputError, match="torch.nn.Module"):
        GradientSearch(lambda x: torch.zeros(len(x), 3), LinearGenerator(), 3)
    with pytest.raises(InvalidInputError, match="method"):
        GradientSearch(classifier(), LinearGenerator(), 3, method="sgd")


def test_plain_callables_and_numpy_generators_work():
    def model(x):  # a function of numpy arrays, returning probabilities
        logits = x @ classifier().weight.detach().numpy().T + classifier().bias.detach().numpy()
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    bb = BlackBox(model, input_type="numpy")
    res = ExemplarSearch(bb, lambda z: (z @ M).numpy(), 3, seed=0).run(1)
    assert res.converged and isinstance(res.exemplar, np.ndarray)


# -- bad arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"population": 0},
        {"elite": 0},
        {"population": 5, "elite": 6},
        {"children": 0},
        {"children": 1.5},
        {"step": 0.0},
        {"step": -1.0},
        {"momentum": 1.0},
        {"momentum": -0.1},
        {"confidence": 0.0},
        {"confidence": 1.5},
        {"init_range": 0},
        {"max_loss": -0.1},
        {"max_queries": 10},  # cannot pay for the initial population of 50
        {"seed": -1},
        {"batch_size": 0},
    ],
)
def test_bad_arguments(options):
    with pytest.raises(InvalidInputError):
        es(**options)


def test_bad_latent_dim_and_generator():
    with pytest.raises(InvalidInputError):
        ExemplarSearch(classifier(), LinearGenerator(), 0)
    with pytest.raises(InvalidInputError, match="generator"):
        ExemplarSearch(classifier(), "not a generator", 3)


@pytest.mark.parametrize(
    "target, options",
    [
        (-1, {}),
        (3, {}),  # out of range for a 3-class model, known from the BlackBox
        (1.5, {}),
        (True, {}),
        ([0.5, 0.6, 0.0], {"max_loss": 0.01}),  # does not sum to 1
        ([0.5, 0.5], {"max_loss": 0.01}),  # wrong length
        ([1.5, -0.5, 0.0], {"max_loss": 0.01}),  # negative
        ([[0.5, 0.5, 0.0]], {"max_loss": 0.01}),  # not 1-D
    ],
)
def test_bad_targets(target, options):
    model = LoggingModel()
    search = es(BlackBox(model, num_classes=3), seed=0, **options)
    with pytest.raises(InvalidInputError):
        search.run(target)
    assert model.sizes == []  # rejected before any query


def test_out_of_range_target_of_an_unknown_model_fails_after_the_first_answer():
    with pytest.raises(InvalidInputError, match="out of range"):
        es(seed=0).run(5)


def test_run_many_streams_split_a_long_call_into_equal_chunks():
    search = es(seed=3, max_queries=2000)
    whole = search.run_many([1, 2, 1, 2])
    parts = search.run_many([1, 2], streams=[0, 1]) + search.run_many([1, 2], streams=[2, 3])
    assert all(same(a, b) for a, b in zip(parts, whole))
    assert same(search.run_many([2], streams=[3])[0], whole[3])
    assert not same(whole[0], whole[2])  # different streams: different searches
    with pytest.raises(InvalidInputError, match="streams"):
        search.run_many([0, 1], streams=[0])
    with pytest.raises(InvalidInputError, match="streams"):
        search.run_many([0], streams=[-1])
