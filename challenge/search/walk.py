"""Run a model node by node so that the network can be resumed from any layer.

Measuring one layer at many bit widths needs the rest of the network after that layer, not the
part before it, which is the same every time. The model is traced once with torch.fx; one walk
over its graph per batch stops before each layer with the values that are still needed later
(the layer's input, and any skip connection that jumps over it), and `resume` runs only the
nodes after the layer from there. A value is dropped after its last use, so a walk holds about
what a normal forward pass holds.
"""
from __future__ import annotations

from typing import Callable, Iterator

import torch
import torch.fx
from torch import nn


class GraphWalk:
    def __init__(self, model: nn.Module):
        try:
            self.module = torch.fx.symbolic_trace(model)
        except Exception as error:  # a participant's architecture with data-dependent control flow
            raise RuntimeError(f"the search needs a torch.fx-traceable model ({type(error).__name__}: {error})") from error
        self.nodes = list(self.module.graph.nodes)
        self._last_use: dict[torch.fx.Node, int] = {}
        for position, node in enumerate(self.nodes):
            for source in node.all_input_nodes:
                self._last_use[source] = position
        self.layer_position = {node.target: i for i, node in enumerate(self.nodes) if node.op == "call_module"}

    def _run(self, env: dict, start: int):
        """Run nodes from `start` on; returns the graph's output. `env` is consumed."""
        interpreter = torch.fx.Interpreter(self.module, garbage_collect_values=False)
        interpreter.env = env
        for position in range(start, len(self.nodes)):
            node = self.nodes[position]
            value = interpreter.run_node(node)
            if node.op == "output":
                return value
            env[node] = value
            for source in node.all_input_nodes:
                if self._last_use[source] == position:
                    del env[source]
        raise RuntimeError("the traced graph has no output node")

    def cuts(self, batch: torch.Tensor, layers: list[str]) -> Iterator[tuple[str, torch.Tensor, Callable]]:
        """For each of `layers` in execution order: (name, its input, resume), where
        `resume(output)` returns the model's output with the layer's output replaced by `output`."""
        wanted = sorted((self.layer_position[name], name) for name in layers)
        placeholder = self.nodes[0]
        env = {placeholder: batch}
        interpreter = torch.fx.Interpreter(self.module, garbage_collect_values=False)
        interpreter.env = env
        position = 1
        for layer_position, name in wanted:
            for position in range(position, layer_position):  # the prefix, once per batch
                node = self.nodes[position]
                env[node] = interpreter.run_node(node)
                for source in node.all_input_nodes:
                    if self._last_use[source] == position:
                        del env[source]
            position = layer_position
            node = self.nodes[layer_position]
            layer_input = env[node.args[0]]

            def resume(output, node=node, start=layer_position + 1):
                branch = dict(env)  # the live values; the walk's own env goes on unchanged
                branch[node] = output
                return self._run(branch, start)

            yield name, layer_input, resume
