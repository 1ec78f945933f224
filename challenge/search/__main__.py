"""`python -m challenge.search`: see challenge/search/cli.py.

An entry point, like main.py: it resolves the generator from synth/ and hands the lookup to the
search, so that the kit's modules themselves never import synth/.
"""
import sys

from challenge.errors import run_cli
from challenge.search.cli import main
from synth import get_generator

sys.exit(run_cli(lambda argv: main(argv, get_generator)))
