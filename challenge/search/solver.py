"""The exact choice of one option per layer: least total sensitivity within a byte budget.

This is a multiple-choice knapsack. We solve it by dynamic programming over Pareto sets, in
integer bytes: after each layer we keep every partial assignment that no other one beats on
both size and sensitivity (a smaller or equal size with a smaller or equal sum), sorted by size.
A dominated partial assignment can never become part of an optimum, so the last set is the
exact frontier of the whole model: for *every* budget, the optimum is the largest-size point
within it. One pass therefore answers the target and the whole frontier sweep.

Sizes are the real byte counts (ceil(numel * bits / 8) per layer, size.py), never rounded to a
grid, so a solution meets its budget exactly as the scorer counts. The number of points kept is
at most the number of distinct sizes (what a DP over a 1-byte grid would hold) and in practice
far fewer; states that cannot fit the largest budget of interest are dropped early.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Frontier:
    """Pareto-optimal assignments: `sizes` ascending, `costs` strictly descending."""

    sizes: np.ndarray  # int64 bytes of the variable part (sum of the chosen options' sizes)
    costs: np.ndarray  # float64 total sensitivity
    _parents: list[np.ndarray]  # per layer: index into the previous layer's set
    _choices: list[np.ndarray]  # per layer: option index chosen

    def best_within(self, budget: int) -> int | None:
        """Index of the least-cost point whose size is at most `budget`, None if none fits."""
        index = int(np.searchsorted(self.sizes, budget, side="right")) - 1
        return index if index >= 0 else None

    def choices(self, index: int) -> list[int]:
        """The option index of every layer for frontier point `index`."""
        picks = []
        for parents, choices in zip(reversed(self._parents), reversed(self._choices)):
            picks.append(int(choices[index]))
            index = int(parents[index])
        return picks[::-1]


def _pareto(sizes: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated points, by ascending size (ties: the cheapest, then the first)."""
    order = np.lexsort((np.arange(len(sizes)), costs, sizes))
    sorted_costs = costs[order]
    # Keep a point only if it is strictly cheaper than every smaller-or-equal one before it.
    running_min = np.minimum.accumulate(sorted_costs)
    keep = np.ones(len(order), dtype=bool)
    keep[1:] = sorted_costs[1:] < running_min[:-1]
    return order[keep]


def solve_frontier(options: list[list[tuple[int, float]]], max_size: int | None = None) -> Frontier:
    """options[layer] = [(bytes, sensitivity), ...]; `max_size` bounds the total (None: no bound).

    Deterministic: ties are broken by option order, never by floating-point accident."""
    if not options or any(not layer for layer in options):
        raise ValueError("every layer needs at least one option")
    rest_min = np.cumsum([min(s for s, _ in layer) for layer in options][::-1])[::-1].tolist() + [0]
    sizes = np.zeros(1, dtype=np.int64)
    costs = np.zeros(1, dtype=np.float64)
    parents, choices = [], []
    for number, layer in enumerate(options):
        option_sizes = np.array([s for s, _ in layer], dtype=np.int64)
        option_costs = np.array([c for _, c in layer], dtype=np.float64)
        cand_sizes = (sizes[:, None] + option_sizes[None, :]).ravel()
        cand_costs = (costs[:, None] + option_costs[None, :]).ravel()
        cand_index = np.arange(cand_sizes.size)
        if max_size is not None:  # what cannot fit even with the smallest remaining options
            fits = cand_sizes + rest_min[number + 1] <= max_size
            cand_sizes, cand_costs, cand_index = cand_sizes[fits], cand_costs[fits], cand_index[fits]
        keep = _pareto(cand_sizes, cand_costs)
        sizes, costs, kept = cand_sizes[keep], cand_costs[keep], cand_index[keep]
        parents.append((kept // len(layer)).astype(np.int64))
        choices.append((kept % len(layer)).astype(np.int16))
    return Frontier(sizes, costs, parents, choices)
