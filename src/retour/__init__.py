"""retour: measure how returning migrants and their communities reintegrate."""

__version__ = "0.1.0"
