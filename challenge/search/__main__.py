"""`python -m challenge.search`: see challenge/search/cli.py."""
import sys

from challenge.errors import run_cli
from challenge.search.cli import main

sys.exit(run_cli(main))
