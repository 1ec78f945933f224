"""Per-layer bit widths chosen under a compression budget, from synthetic data.

sizes.py (bytes as the scorer counts them) -> sensitivity.py (ZeroQ's measure, on a resumable
walk over the graph, walk.py; proxies.py) -> solver.py (the exact Pareto frontier) ->
pipeline.py (the whole search) -> report.py, plot.py (TOML, table, PNG); realdata.py measures
top-1 of a few points when labelled images are given. Entry points: cli.py and main.py
--target-compression.
"""
from .pipeline import Choice, SearchResult, SearchSpace, layer_rules, plan, search

__all__ = ["Choice", "SearchResult", "SearchSpace", "layer_rules", "plan", "search"]
