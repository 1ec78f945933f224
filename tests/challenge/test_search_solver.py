"""The frontier solver is exact: checked against brute force over every assignment."""
import itertools
import math
import random

import numpy as np
import pytest

from challenge.search.solver import solve_frontier


def brute_force(options, budget):
    """The least total cost within `budget` over every assignment, None if none fits."""
    return brute_force_table(options)(budget)


def brute_force_table(options):
    sizes, costs = [], []
    for picks in itertools.product(*(range(len(layer)) for layer in options)):
        sizes.append(sum(options[l][p][0] for l, p in enumerate(picks)))
        costs.append(sum(options[l][p][1] for l, p in enumerate(picks)))
    order = np.argsort(sizes, kind="stable")
    sorted_sizes, best = np.array(sizes)[order], np.minimum.accumulate(np.array(costs)[order])

    def lookup(budget):
        index = np.searchsorted(sorted_sizes, budget, side="right") - 1
        return None if index < 0 else float(best[index])

    return lookup


def random_options(rng, layers, choices):
    # Sizes as the kit counts them (ceil(numel * bits / 8)); costs unordered on purpose, so a
    # narrower width is sometimes measured as less sensitive, as real measurements can be.
    options = []
    for _ in range(layers):
        numel = rng.randint(3, 200)
        widths = sorted(rng.sample(range(2, 9), choices))
        options.append([(math.ceil(numel * b / 8), rng.uniform(0, 1) * 4.0 ** (-b) + rng.uniform(0, 1e-3))
                        for b in widths])
    return options


@pytest.mark.parametrize("seed", range(6))
def test_frontier_matches_brute_force_for_every_budget(seed):
    rng = random.Random(seed)
    options = random_options(rng, layers=5, choices=rng.randint(2, 4))
    frontier = solve_frontier(options)
    smallest = sum(min(s for s, _ in layer) for layer in options)
    largest = sum(max(s for s, _ in layer) for layer in options)
    assert np.all(np.diff(frontier.sizes) > 0) and np.all(np.diff(frontier.costs) < 0)
    expected_at = brute_force_table(options)
    for budget in range(smallest - 1, largest + 2):
        expected = expected_at(budget)
        index = frontier.best_within(budget)
        if expected is None:
            assert index is None
            continue
        picks = frontier.choices(index)
        size = sum(options[l][p][0] for l, p in enumerate(picks))
        cost = sum(options[l][p][1] for l, p in enumerate(picks))
        assert size <= budget and size == frontier.sizes[index]
        assert cost == pytest.approx(expected, abs=1e-12) and cost == pytest.approx(frontier.costs[index])


def test_bound_prunes_but_keeps_the_optimum():
    rng = random.Random(7)
    options = random_options(rng, layers=6, choices=3)
    budget = sum(sorted(s for s, _ in layer)[1] for layer in options)
    bounded, full = solve_frontier(options, max_size=budget), solve_frontier(options)
    assert bounded.sizes.max() <= budget
    assert bounded.costs[bounded.best_within(budget)] == full.costs[full.best_within(budget)]
    assert brute_force(options, budget) == pytest.approx(bounded.costs[bounded.best_within(budget)])


def test_ties_are_broken_deterministically():
    options = [[(1, 0.5), (1, 0.5), (2, 0.1)], [(3, 0.2), (3, 0.2)]]
    frontier = solve_frontier(options)
    assert frontier.choices(frontier.best_within(4)) == [0, 0]
    assert frontier.choices(frontier.best_within(5)) == [2, 0]
