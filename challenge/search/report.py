"""What the search writes: the layer config (TOML for --layer-config) and the frontier table.

    mixed.toml            one [[layer]] rule per quantized layer (read_layer_config reads it)
    mixed.frontier.md     compression, predicted sensitivity and widths for a sweep of targets,
                          plus top-1 measured on real images where the user gave some
    mixed.frontier.png    the same as a plot (plot.py)
    mixed.sensitivities.json  the measured sensitivities (reusable: --sensitivities-from)
    mixed.prediction.json the chosen point's predicted quantities (compression, bits per weight,
                          summed sensitivity, and the joint KL and top-1 agreement with FP32 on the
                          synthetic samples: prediction.py), to set beside a measured top-1
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from .pipeline import Choice, SearchResult, SearchSpace, layer_rules


def companion_paths(toml_path: str | Path) -> tuple[Path, Path, Path]:
    """mixed.toml -> mixed.frontier.md, mixed.frontier.png, mixed.sensitivities.json (same folder)."""
    path = Path(toml_path)
    stem = path.name[: -len(".toml")] if path.name.endswith(".toml") else path.name
    return tuple(path.with_name(f"{stem}.{suffix}") for suffix in ("frontier.md", "frontier.png", "sensitivities.json"))


def prediction_path(toml_path: str | Path) -> Path:
    """mixed.toml -> mixed.prediction.json (same folder)."""
    path = Path(toml_path)
    stem = path.name[: -len(".toml")] if path.name.endswith(".toml") else path.name
    return path.with_name(f"{stem}.prediction.json")


def mean_bits(space: SearchSpace, choice: Choice) -> float:
    """Weight bits per searched weight, weighted by each layer's number of weights."""
    numels = space.sizes.numels
    return sum(numels[n] * b for n, b in choice.weight_bits.items()) / sum(numels[n] for n in choice.weight_bits)


def widths_summary(choice: Choice) -> str:
    """How many searched layers take each width, e.g. `2b:1 4b:30 8b:18`."""
    counts = Counter(choice.weight_bits.values())
    return " ".join(f"{b}b:{counts[b]}" for b in sorted(counts))


def predicted(result: SearchResult) -> dict:
    """The chosen point as numbers: what the search expects before any real image is seen."""
    space, chosen, prediction = result.space, result.chosen, result.prediction
    about = {"arch": space.arch, "scheme": space.scheme.name, "target": space.target,
             "compression": chosen.compression, "quantized_bytes": chosen.quantized_bytes,
             "fp32_bytes": space.sizes.fp32_bytes, "bits_per_weight": mean_bits(space, chosen),
             "layers_per_width": widths_summary(chosen), "proxy": space.proxy,
             "proxy_iterations": space.proxy_iterations, "sensitivity": chosen.sensitivity,
             "sensitivity_samples": result.sensitivities.samples}
    return {**about, **(prediction.to_json() if prediction else {})}


def prediction_summary(result: SearchResult) -> str:
    """One clause for the log: the predicted compression, width and, where measured, the joint figures."""
    values = predicted(result)
    text = (f"predicted {values['compression']:.2f}% compression, {values['bits_per_weight']:.2f} bits per searched "
            f"weight, sensitivity {values['sensitivity']:.4g} ({values['proxy']})")
    if result.prediction:
        text += (f", all widths at once on {values['samples']} synthetic samples: KL {values['joint_kl']:.4g}, "
                 f"top-1 agreement with FP32 {values['agreement']:.1f}%")
    return text


def _header(result: SearchResult, command: str | None) -> list[str]:
    space, chosen = result.space, result.chosen
    lines = [
        f"# Per-layer bit widths for {space.arch} ({space.num_classes} classes), scheme {space.scheme.name},",
        f"# chosen by `python -m challenge.search` for a compression of at least {space.target}%.",
        f"# Predicted: {chosen.quantized_bytes} of {space.sizes.fp32_bytes} bytes, compression "
        f"{chosen.compression:.4f}%, {mean_bits(space, chosen):.3f} bits per searched weight,",
        f"# total sensitivity ({space.proxy}, {result.sensitivities.samples} synthetic samples) "
        f"{chosen.sensitivity:.6g}.",
    ]
    if result.prediction:
        lines.append(f"# All chosen widths at once on {result.prediction.samples} synthetic samples (weights only): "
                     f"KL {result.prediction.joint_kl:.6g}, top-1 agreement with FP32 {result.prediction.agreement:.2f}%.")
    if command:
        lines.append(f"# Command: {command}")
    lines.append("# Use it with: python main.py --model ... --scheme {} --layer-config THIS_FILE".format(space.scheme.name))
    return lines


def write_layer_config(path: str | Path, result: SearchResult, command: str | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = _header(result, command)
    for rule in layer_rules(result.space, result.chosen):
        lines += ["", "[[layer]]", f"match = {json.dumps(rule['match'])}"]
        why = result.space.fixed.get(rule["match"])
        lines.append(f"weight_bits = {rule['weight_bits']}" + (f"  # {why}" if why else ""))
        if "act_bits" in rule:
            lines.append(f"act_bits = {rule['act_bits']}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def frontier_table(result: SearchResult) -> str:
    space = result.space
    measured = bool(result.measured)
    columns = ["target %", "compression %", "bytes", f"predicted sensitivity ({space.proxy})", "bits/weight",
               "layers per width"] + (["top-1 % (measured on real images)"] if measured else [])
    aligns = ["---:" if column != "layers per width" else "---" for column in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join(aligns) + "|"]
    for row in result.sweep:
        cells = [f"{row.target:g}", f"{row.compression:.2f}", str(row.quantized_bytes), f"{row.sensitivity:.4g}",
                 f"{mean_bits(space, row):.2f}", widths_summary(row)]
        if measured:
            cells.append(f"{result.measured[row.target]:.2f}" if row.target in result.measured else "")
        if row.target == space.target:
            cells[0] = f"**{cells[0]}** (chosen)"
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"{space.arch}, scheme {space.scheme.name}: sensitivities measured on "
             f"{result.sensitivities.samples} synthetic samples ({space.proxy}), "
             f"{len(space.searched)} layers searched over widths {space.weight_bits}"
             + (f", activations over {space.act_bits}" if space.act_bits else "")
             + f"; {len(space.fixed)} kept. Sensitivities {result.seconds.get('sensitivities', 0):.1f} s, "
             f"solve {result.seconds.get('solve', 0):.3f} s ({len(result.frontier.sizes)} Pareto points)."]
    if result.prediction:
        notes.append(f"Predicted for the chosen point, all its widths at once on {result.prediction.samples} "
                     f"synthetic samples (weights only): KL {result.prediction.joint_kl:.4g}, top-1 agreement "
                     f"with FP32 {result.prediction.agreement:.2f}%.")
    if measured:
        fp32 = f" FP32 top-1 on the same images: {result.fp32_top1:.2f}%." if result.fp32_top1 is not None else ""
        notes.append("Top-1 is measured on labelled real images after the choice, as a report: it never "
                     f"enters it.{fp32}")
    return "\n".join(lines) + "\n\n" + "\n".join(notes) + "\n"


def write_frontier_table(path: str | Path, result: SearchResult) -> Path:
    path = Path(path)
    path.write_text(frontier_table(result), encoding="utf-8")
    return path


def write_all(toml_path: str | Path, result: SearchResult, command: str | None, about: dict) -> list[Path]:
    """The layer config and everything beside it; returns the paths written."""
    from .plot import plot_frontier
    from .sensitivity import save_sensitivities

    toml = write_layer_config(toml_path, result, command)
    table, plot, sensitivities = companion_paths(toml)
    write_frontier_table(table, result)
    plot_frontier(plot, result)
    save_sensitivities(sensitivities, result.sensitivities, about)
    prediction = prediction_path(toml)
    prediction.write_text(json.dumps(predicted(result), indent=1) + "\n", encoding="utf-8")
    return [toml, table, plot, sensitivities, prediction]
