"""The tags table's last line of defence: a tag whose numbers are not finite is never stored."""

import math

import pytest

from upscway.records import Decider, Tag
from upscway.storage import tags as tag_rows


def _tag(chunk_id: str, probs: list[float]) -> Tag:
    return Tag(chunk_id, f"h-{chunk_id}", "NOT_RELEVANT", probs, max(probs), Decider.STUDENT, "model:m1")


@pytest.mark.parametrize("bad", [[float("nan")] * 3, [0.1, float("inf"), 0.0], [0.5, 0.5, float("-inf")]])
def test_a_tag_whose_numbers_are_not_finite_is_refused_and_nothing_of_the_batch_is_stored(store, bad):
    with pytest.raises(ValueError, match="chunk c2's, decided by model:m1, has probabilities that are not finite"):
        with store.transaction() as conn:
            tag_rows.insert(conn, "upsc_gs", [_tag("c1", [0.1, 0.8, 0.1]), _tag("c2", bad)], "run-1")
    with store.transaction() as conn:
        tag_rows.insert(conn, "upsc_gs", [_tag("c1", [0.1, 0.8, 0.1])], "run-2")
    with store.reader() as conn:
        stored = conn.execute("SELECT chunk_id, probs, confidence FROM tags").fetchall()
    assert stored == [("c1", [0.1, 0.8, 0.1], 0.8)] and all(math.isfinite(p) for p in stored[0][1])
