"""The cascade's live check over nights, for the Prefect UI: a keyed markdown artifact
(`cascade-live-bound`, so each tag run updates one page) with a plot of the live loss (the
certified, article-averaged consistency loss), its upper bound and ε night by night, the
fallbacks marked, and the last nights as a table with the change-point detector's value."""

from __future__ import annotations

import base64
import io
import math

from prefect.artifacts import create_markdown_artifact

from upscway.plots import pyplot
from upscway.storage import audits as audit_rows
from upscway.storage.store import Store

KEY = "cascade-live-bound"


def _plot(rows: list[dict]) -> str:
    """The plot as a PNG data URI (the UI cannot reach files)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.4))
    x = list(range(1, len(rows) + 1))
    ax.fill_between(x, [0.0] * len(rows), [r["live_upper"] for r in rows], alpha=0.25, label="up to the upper bound")
    ax.plot(
        x,
        [r["live_estimate"] if r["live_estimate"] is not None else float("nan") for r in rows],
        marker=".",
        label="estimate",
    )
    ax.plot(x, [r["max_loss"] for r in rows], color="grey", linestyle="--", label="ε")
    falls = [i for i, r in zip(x, rows) if r["fallback"]]
    if falls:
        ax.scatter(falls, [0] * len(falls), color="red", marker="x", zorder=3, label="fallback (teacher decided all)")
    ax.set_xlabel("night (oldest first)")
    ax.set_ylabel("consistency loss")
    ax.set_ylim(0, None)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4, frameon=False, fontsize="small")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _detector(log_value: float | None) -> str:
    return "–" if log_value is None else f"{math.exp(min(log_value, 700.0)):.3g}"


def publish_live_bound(store: Store, nights: int = 30) -> None:
    """Update the keyed artifact from the last `nights` audited nights."""
    with store.reader() as conn:
        columns, found = audit_rows.recent_nights(conn, nights)
    rows = [dict(zip(columns, r)) for r in reversed(found)]
    if not rows:
        return
    table = [
        "| night of | model | night | decided | audited | disagree | live loss | upper bound | detector | ε | fallback |",
        "|" + "---|" * 11,
    ]
    table += [
        f"| {r['at']} | {r['model_id']} | {r['night']} | {r['decided']} of {r['chunks']} | {r['audited']} | {r['disagreements']} | "
        f"{'–' if r['live_estimate'] is None else format(r['live_estimate'], '.3f')} | {r['live_upper']:.3f} | "
        f"{_detector(r['detector'])} | {r['max_loss']:g} | {'withheld' if r['withheld'] else 'yes' if r['fallback'] else ''} |"
        for r in reversed(rows[-10:])
    ]
    body = (
        f"## The cascade's live check\n\n![live bound]({_plot(rows)})\n\nThe certificate is broken when the change-point "
        "detector reaches 1/δ (a false alarm, ever, has chance at most δ); the cascade then stops offloading until a new "
        "student is certified. A night whose upper bound is above ε is withheld: the teacher decides that night.\n\n"
        + "\n".join(table)
        + "\n"
    )
    create_markdown_artifact(body, key=KEY, description="the production cascade's audit and live bound, night by night")
