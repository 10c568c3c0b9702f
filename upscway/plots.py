"""Plots drawn into reports."""

from __future__ import annotations


def pyplot():
    """pyplot on the Agg backend, imported when a plot is drawn: every CLI command imports the
    reports' modules (through the flows), and matplotlib costs a third of a second to import."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
