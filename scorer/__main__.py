"""`python -m scorer ...`: see scorer/cli.py."""
import sys

from scorer.cli import entry

sys.exit(entry())
