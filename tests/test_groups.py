"""Feature groups: the one-hot columns of a category are present or absent as a whole.

GEEX's Bernoulli masks (both estimators) and Captum's LIME and KernelSHAP take ``groups``; every
query they send keeps a group's columns all at the input or all at the baseline, and the values
of a group add up to its attribution (exactly for a model linear in the groups).
"""

import pytest
import torch

from evoxplain import GEEX, LIME, BlackBox, InvalidInputError, KernelSHAP
from evoxplain.sampling import bernoulli, feature_groups, make_sampler

# 8 columns: age, a category one-hot in columns 1-4, hours, a category one-hot in 6-7
BLOCKS = [[1, 2, 3, 4], [6, 7]]
IDS = [0, 1, 1, 1, 1, 2, 3, 3]
WEIGHTS = torch.tensor([1.0, -2.0, 0.5, 1.5, -1.0, 3.0, 0.25, -0.75])
ROW = torch.tensor([0.7, 0.0, 0.0, 1.0, 0.0, -1.2, 1.0, 0.0])  # categories 3 and 6
BASE = torch.tensor([0.1, 0.4, 0.3, 0.2, 0.1, 0.3, 0.6, 0.4])  # background means: frequencies


class Recorder:
    """A logistic model of the columns that keeps every input it is sent."""

    def __init__(self):
        self.seen = []

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.clone())
        logit = x @ WEIGHTS
        return torch.stack([torch.zeros_like(logit), logit], dim=1)


def group_truth() -> torch.Tensor:
    """Each group's exact attribution for the logit: w·(x − x̊) summed over its columns."""
    return torch.zeros(4).index_add_(0, torch.tensor(IDS), WEIGHTS * (ROW - BASE))


def as_groups(values: torch.Tensor) -> torch.Tensor:
    return torch.zeros(4).index_add_(0, torch.tensor(IDS), values)


def test_blocks_and_ids_name_the_same_groups():
    assert feature_groups(BLOCKS, (8,)).tolist() == IDS
    assert feature_groups(IDS, (8,)).tolist() == IDS
    assert feature_groups(torch.tensor(IDS), (8,)).tolist() == IDS
    assert feature_groups([[5, 6]], (2, 4)).tolist() == [[0, 1, 2, 3], [4, 5, 5, 6]]  # flat indices


@pytest.mark.parametrize(
    "groups",
    [[[1, 2], [2, 3]], [[0, 9]], [[]], [0, 0, 2], [0.0, 1.0, 1.0], [0, 1], [[0, 1], 2]],
)
def test_malformed_groups_are_refused_with_the_fix(groups):
    with pytest.raises(InvalidInputError, match="groups|group ids"):
        feature_groups(groups, (3,))


def test_a_sampler_of_groups_draws_one_sign_per_group():
    sampler = make_sampler((8,), groups=BLOCKS)
    masks = bernoulli(sampler.sample(64, torch.Generator().manual_seed(0)))
    assert sampler.dimensions == 4
    assert torch.equal(masks[:, 1:5], masks[:, 1:2].expand(-1, 4)) and torch.equal(
        masks[:, 6:], masks[:, 6:7].expand(-1, 2)
    )
    assert 0 < masks[:, 0].mean() < 1 and not torch.equal(masks[:, 0], masks[:, 1])
    assert sampler.bernoulli_gain.tolist() == [1, 4, 4, 4, 4, 1, 2, 2]
    with pytest.raises(InvalidInputError, match="groups replace"):
        make_sampler((1, 4, 4), groups=torch.zeros(1, 4, 4, dtype=torch.long), shared=True)


def assert_groups_move_together(queries: list[torch.Tensor]) -> None:
    sent = torch.cat(queries)
    assert len(sent) > 50
    at_input, at_base = torch.isclose(sent, ROW), torch.isclose(sent, BASE)
    for block in BLOCKS:
        columns = torch.tensor(block)
        # each query keeps the block's columns all at the input or all at the baseline
        whole = at_input[:, columns].all(1) | at_base[:, columns].all(1)
        assert bool(whole.all())
        assert bool(at_input[:, columns].all(1).any()) and bool(at_base[:, columns].all(1).any())


@pytest.mark.parametrize("estimator", ["mean", "regression"])
def test_geex_masks_a_category_as_a_whole_and_its_values_add_up(estimator):
    model = Recorder()
    exp = GEEX(
        model,
        queries=2000,
        distribution="bernoulli",
        estimator=estimator,
        integrated=False,
        groups=BLOCKS,
        baseline=BASE,
        fitness="logit",
        seed=0,
    ).explain(ROW, target=1)
    assert_groups_move_together(model.seen)
    values = exp.values
    assert torch.allclose(values[1:5], values[1].expand(4)) and torch.allclose(values[6:], values[6].expand(2))
    error = as_groups(exp.values) - group_truth()
    if estimator == "regression":  # exact for a linear model
        assert float(error.abs().max()) < 1e-5 and abs(float(exp.completeness_gap)) < 1e-5
    else:  # sampling noise, within its reported standard error (a group's columns share theirs)
        assert bool((error.abs() < 4 * as_groups(exp.stderr)).all())


def test_integrated_groups_keep_the_paths_expectation():
    exp = GEEX(
        Recorder(), queries=4000, distribution="bernoulli", groups=IDS, baseline=BASE, fitness="logit", seed=1
    ).explain(ROW, target=1)
    assert bool(((as_groups(exp.values) - group_truth()).abs() < 4 * as_groups(exp.stderr)).all())


@pytest.mark.parametrize("method", [LIME, KernelSHAP])
def test_captum_methods_take_the_same_groups(method):
    model = Recorder()
    exp = method(model, queries=300, groups=BLOCKS, baseline=BASE, fitness="logit", seed=0).explain(ROW, target=1)
    assert_groups_move_together(model.seen[1:])  # after the prediction query
    assert torch.allclose(as_groups(exp.values), group_truth(), atol=1e-4)  # a linear model is fitted exactly


def test_groups_need_bernoulli_masks_and_tensors():
    with pytest.raises(InvalidInputError, match="distribution='bernoulli'"):
        GEEX(Recorder(), groups=BLOCKS)
    with pytest.raises(InvalidInputError, match="superpixel"):
        LIME(Recorder(), groups=BLOCKS, superpixel=2)
    text = GEEX(lambda texts: torch.zeros(len(texts), 2), distribution="bernoulli", groups=BLOCKS)
    with pytest.raises(InvalidInputError, match="token by token"):
        text.explain("a fine film")


def test_groups_that_do_not_fit_the_input_fail_before_any_query():
    bb = BlackBox(Recorder())
    with pytest.raises(InvalidInputError, match="feature indices in 0..7"):
        GEEX(bb, distribution="bernoulli", groups=[[6, 7, 8]]).explain(ROW)
    with pytest.raises(InvalidInputError, match="input's shape"):
        KernelSHAP(bb, groups=[0, 1, 2]).explain(ROW)
    assert bb.queries == 0
