"""The promote flow: the gate decides, production moves on a pass, rollback restores."""

import os
import subprocess
import sys

from prefect.settings import PREFECT_API_URL

from tests.integration.conftest import lenient_gate, rows
from upscway.flows.distill import distill


def test_promote_applies_the_gate_and_rollback_restores(trained_store, monkeypatch):
    from upscway.flows.promote import promote
    from upscway.storage import models as registry

    annotated_store, first = trained_store  # the session's short-trained student, and one more
    second = distill(stage="minilm-l3", return_state=True).result().stages["minilm-l3"].model

    # Fewer evaluation gold chunks than the gate asks for: it cannot decide, and says what to label.
    monkeypatch.setenv("UPSCWAY_GATE__MIN_GOLD_SUPPORT", "1000")
    # ε is set before any evaluation: a model evaluated at another ε is certified again only on data gathered after
    # a student one epoch old disagrees with its teacher a lot, and the store holds a dozen held-out articles
    monkeypatch.setenv("UPSCWAY_CASCADE__MAX_LOSS", "0.99")
    monkeypatch.setenv("UPSCWAY_CASCADE__RISK_LEVEL", "0.2")
    undecided = promote(model=first, return_state=True).result()
    assert undecided.verdict == "insufficient-data" and undecided.production == "unchanged"
    assert "needed: label about" in undecided.reasons[0]
    with annotated_store.reader() as conn:
        assert registry.holder(conn, "production") is None

    # With the support bar lowered, lenient thresholds and a loose ε, it is certified and promotes; the next one too.
    lenient_gate(monkeypatch)
    promoted = promote(model=first, return_state=True).result()
    assert promoted.verdict == "promote", promoted.reasons
    assert 0 <= promoted.cascade_threshold <= 1.01  # certified, recorded
    assert promoted.certificate.startswith(
        f"Certified: with 80% confidence the cascade at threshold {promoted.cascade_threshold:g}"
    )
    assert promote(model=second, return_state=True).result().previous_production == first

    monkeypatch.setenv("UPSCWAY_GATE__MIN_RELEVANCE_ACCURACY", "1.01")
    rejected = promote(model=first, return_state=True).result()
    assert rejected.verdict == "reject"
    assert [name for name, verdict in rejected.criteria.items() if "FAIL" in verdict] == [
        f"cascade_at_{promoted.cascade_threshold:g}_relevance_accuracy"
    ]
    with annotated_store.reader() as conn:
        assert registry.holder(conn, "production") == second
    forced = promote(model=first, force=True, reason="hotfix for a known teacher bug", return_state=True).result()
    assert forced.forced is True and forced.production == first
    assert rows(
        annotated_store, "SELECT verdict, forced, force_reason FROM gate_decisions ORDER BY id DESC LIMIT 1"
    ) == [("reject", True, "hotfix for a known teacher bug")]

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    back = subprocess.run(
        [sys.executable, "-m", "upscway.cli", "models", "rollback"], env=env, capture_output=True, text=True
    )
    assert back.returncode == 0, back.stderr
    with annotated_store.reader() as conn:
        assert registry.holder(conn, "production") == second
