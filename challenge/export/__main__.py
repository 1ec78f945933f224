"""python -m challenge.export ARTIFACT.safetensors --out model.onnx [--check]

Writes the artifact's QDQ ONNX model (see challenge/export/__init__.py). `--check` also runs it
once with ONNX Runtime's CPU provider and says which layers became integer kernels.
A bad artifact or output path ends with one line `error: ...` and exit code 2.
"""
from __future__ import annotations

import argparse
import sys

from ..errors import run_cli


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m challenge.export", allow_abbrev=False,
                                     description="Export a quantized-model artifact to ONNX (QuantizeLinear/"
                                                 "DequantizeLinear), for ONNX Runtime and other deployment tools.")
    parser.add_argument("artifact", help="a .safetensors artifact written by main.py --save-model")
    parser.add_argument("--out", required=True, help="the .onnx file to write")
    parser.add_argument("--check", action="store_true",
                        help="load it in ONNX Runtime and report the integer kernels it fused")
    return parser


def main(argv=None) -> int:
    from . import export_artifact

    args = get_args_parser().parse_args(argv)
    result = export_artifact(args.artifact, args.out)
    print(f"{result.arch} ({result.scheme}): {result.nodes} nodes written to {result.path} in "
          f"{result.seconds:.1f} s", file=sys.stderr)
    if args.check:
        from .runtime import fused_operators

        counts = fused_operators(result.path.read_bytes())
        print("ONNX Runtime's optimized graph: " + ", ".join(f"{op} {n}" for op, n in sorted(counts.items())),
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
