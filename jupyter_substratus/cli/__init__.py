"""`kubectl notebook`: the command line of jupyter-substratus (the `kubectl-notebook` script,
which kubectl runs as a plugin, or `python -m jupyter_substratus.cli`).

- main: the arguments and the steps of one run;
- notebook: which Notebook a directory opens and what it builds from;
- sync: the two-way sync through the Jupyter contents API;
- terminal: what is shown.
"""

from .main import main

__all__ = ["main"]
