"""Run the `retour` command line as `python -m retour.cli`."""

from retour.cli import main

main()
