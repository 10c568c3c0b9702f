"""The promise's two halves, on a real store: no certificate is computed on chunks a student
trained on (or that are not news, or that a cascade picked for the teacher), and none on gold
that was not sampled at random."""

from itertools import count

from upscway.settings import DistillSettings
from upscway.tasks.distill.dataset import split_of
from upscway.tasks.evaluate.steps import GoldSplit, gold_of_split, held_out, in_calibration
from upscway.taxonomy import load_task

PROBS = [0.1, 0.6, 0.1, 0.1, 0.1]


def _article(split: str, calibrates: bool | None = None, taken=count()) -> str:
    """A fresh article id that falls in `split` (and, when asked, in or out of the calibration half)."""
    while True:
        ident = f"art-{next(taken)}"
        if split_of(ident) == split and (calibrates is None or in_calibration(ident, 0.5) == calibrates):
            return ident


def _chunk(conn, article: str, text_hash: str, source: str = "pib") -> str:
    conn.execute(
        "INSERT INTO articles (id, canonical_url, fetched_url, source, text, content_hash) SELECT ?, ?, ?, ?, 't', ? "
        "WHERE NOT EXISTS (SELECT 1 FROM articles WHERE id = ?)",
        [article, article, article, source, article, article],
    )
    chunk = f"{article}-{text_hash}"
    conn.execute(
        "INSERT INTO chunks (id, article_id, ordinal, text, char_start, char_end, token_count, text_hash) "
        "VALUES (?, ?, 0, ?, 0, 1, 1, ?)",
        [chunk, article, f"text {text_hash}", text_hash],
    )
    return chunk


def _answer(conn, text_hash: str, run: str | None = None, day: int = 1) -> None:
    conn.execute(
        "INSERT INTO annotations (text_hash, annotator, task, prompt_version, label, label_index, probs, confidence, flow_run_id, "
        "created_at) VALUES (?, 'teacher', 'upsc_gs', 'v', 'GS1', 1, ?, 0.6, ?, TIMESTAMPTZ '2026-11-01' + to_days(?))",
        [text_hash, PROBS, run, day],
    )


def test_held_out_teacher_answers_leave_out_what_a_student_trained_on_or_a_cascade_selected(store):
    with store.transaction() as conn:
        held = [_chunk(conn, _article("eval"), f"held{i}") for i in range(3)]
        for i in range(3):
            _answer(conn, f"held{i}", run="annotate-run")
        trained = _chunk(conn, _article("train"), "seen")  # trained on, and the same text in an eval article
        _chunk(conn, _article("eval"), "seen")
        _answer(conn, "seen")
        conn.execute("INSERT INTO training_examples (model_id, chunk_id, split) VALUES ('m', ?, 'train')", [trained])
        _chunk(conn, _article("train"), "unused")  # a train-split article nobody trained on yet: still not held out
        _answer(conn, "unused")
        _chunk(conn, _article("eval"), "written", source="gold")  # a paragraph written for review, not news
        _answer(conn, "written")
        night = [
            ("deferred", "teacher"),
            ("offloaded", "student"),
            ("answered-before", "student"),
            ("answered-after", "student"),
        ]
        for name, decided_by in night:  # night 5, a cascade's
            chunk = _chunk(conn, _article("eval"), name)
            conn.execute(
                "INSERT INTO tags (chunk_id, text_hash, task, label, probs, confidence, decided_by, annotator, flow_run_id, "
                "created_at) VALUES (?, ?, 'upsc_gs', 'GS1', ?, 0.6, ?, 'x', 'tag-run', TIMESTAMPTZ '2026-11-06')",
                [chunk, name, PROBS, decided_by],
            )
        _answer(conn, "deferred", run="tag-run", day=5)  # the teacher saw it only because the student was unsure
        _answer(
            conn, "answered-before", run="annotate-run", day=4
        )  # every pending chunk, before the cascade tagged them
        _answer(
            conn, "answered-after", run="annotate-run", day=6
        )  # answered only because the student decided it (and not the rest)
        reported = _chunk(conn, _article("eval"), "reported")
        _answer(conn, "reported")
    gold = GoldSplit([reported], ["text reported"], ["reported"], [1])
    answers, since = held_out(store, "teacher", "v", "eval", DistillSettings(), gold)
    assert sorted(a.text_hash for a in answers) == ["answered-before", "held0", "held1", "held2"]
    assert {a.article_id for a in answers if a.text_hash.startswith("held")} == {c.rsplit("-", 1)[0] for c in held}
    assert since is None and held_out(store, "teacher", "other-version", "eval", DistillSettings(), gold) == ([], None)


def test_only_gold_sampled_at_random_calibrates_and_the_rest_is_reported(store):
    task = load_task()
    rows = [
        ("random", True),
        ("random", False),
        ("uncertainty", True),
        ("disagreement", True),
        ("authored", True),
        (None, True),
    ]
    with store.transaction() as conn:
        for i, (sampling, calibrates) in enumerate(rows):
            chunk = _chunk(conn, _article("eval", calibrates), f"g{i}")
            conn.execute(
                "INSERT INTO gold_labels (chunk_id, text_hash, task, label, annotator, import_id, sampling) "
                "VALUES (?, ?, 'upsc_gs', 'GS2', 'p', 'i', ?)",
                [chunk, f"g{i}", sampling],
            )
        train = _chunk(conn, _article("train"), "gt")
        conn.execute(
            "INSERT INTO gold_labels (chunk_id, text_hash, task, label, annotator, import_id, sampling) "
            "VALUES (?, 'gt', 'upsc_gs', 'GS2', 'p', 'i', 'random')",
            [train],
        )
    reported, calibrating = gold_of_split(store, task, "eval", DistillSettings(), 0.5)
    assert calibrating.hashes == ["g0"]  # random, in a calibration article
    assert sorted(reported.hashes) == ["g1", "g2", "g3", "g4", "g5"]  # random elsewhere, and every other sampling
    assert calibrating.gold == [task.index("GS2")]


def test_while_a_fallback_holds_only_answers_given_since_it_began_certify(store):
    """A student replacing a broken certificate is certified on the news that broke it."""
    with store.transaction() as conn:
        for i, day in enumerate((1, 2, 8, 9)):
            _chunk(conn, _article("eval"), f"n{i}")
            _answer(conn, f"n{i}", run="annotate-run", day=day)
        conn.execute(
            "INSERT INTO models (id, chain, stage, kind, base_model, path, teacher, task, prompt_version, status, alias) "
            "VALUES ('m', 'demo', 's', 'encoder', 'b', 'p', 'teacher', 'upsc_gs', 'v', 'candidate', 'production')"
        )
        conn.execute(
            "INSERT INTO fallbacks (model_id, reason, figures, created_at) VALUES ('m', 'broken', '{}', TIMESTAMPTZ '2026-11-06')"
        )
    gold = GoldSplit([], [], [], [])
    answers, since = held_out(store, "teacher", "v", "eval", DistillSettings(), gold)
    assert sorted(a.text_hash for a in answers) == ["n2", "n3"] and since is not None
    with store.transaction() as conn:
        conn.execute("UPDATE fallbacks SET cleared_at = current_timestamp")
    assert len(held_out(store, "teacher", "v", "eval", DistillSettings(), gold)[0]) == 4


def _draw(conn, article: str, model: str | None = "m1") -> None:
    conn.execute(
        "INSERT INTO calibration_draws (flow_run_id, article_id, probability, model_id) VALUES ('tag-run', ?, 0.05, ?)",
        [article, model],
    )


def test_the_nightly_calibration_draw_calibrates_in_any_split_and_is_never_trained_on(store):
    """Issue 32: once the cascade offloads, the draw keeps calibration data coming; its articles
    are in the sample whatever their split, and no student trains on their texts."""
    from upscway.storage.annotations import training_rows  # noqa: PLC0415

    task = load_task()
    with store.transaction() as conn:
        drawn = _article("train")
        for h in ("drawn-a", "drawn-b"):  # two chunks of one drawn article, answered on a night the student offloaded
            _chunk(conn, drawn, h)
            _answer(conn, h, run="tag-run", day=5)
        conn.execute(
            "INSERT INTO tags (chunk_id, text_hash, task, label, probs, confidence, decided_by, annotator, flow_run_id, "
            "created_at) VALUES (?, 'other', 'upsc_gs', 'GS1', ?, 0.9, 'student', 'x', 'tag-run', TIMESTAMPTZ '2026-11-06')",
            [_chunk(conn, _article("train"), "other"), PROBS],
        )
        _answer(conn, "other", run="tag-run", day=5)  # an audit answer of an undrawn article: chosen, not a sample
        _draw(conn, drawn)
    gold = GoldSplit([], [], [], [])
    answers, _ = held_out(store, "teacher", "v", "eval", DistillSettings(), gold)
    assert sorted(a.text_hash for a in answers) == ["drawn-a", "drawn-b"]
    assert {a.article_id for a in answers} == {drawn}  # the article is the unit the certificate counts
    after = answers[0].answered_at
    assert held_out(store, "teacher", "v", "eval", DistillSettings(), gold, after=after)[0] == []
    with store.reader() as conn:
        trainable = {r.text for r in training_rows(conn, "teacher", "v", task.name, None)}
    assert "text drawn-a" not in trainable and "text drawn-b" not in trainable and "text other" in trainable


def test_candidates_are_numbered_in_the_order_first_tested_at_one_epsilon_and_delta(store):
    import json  # noqa: PLC0415

    from upscway.tasks.evaluate.steps import candidate_number  # noqa: PLC0415

    def evaluated(conn, ident, model, epsilon, confidence, day):
        cascade = json.dumps({"certificate": {"epsilon": epsilon, "delta": 0.01, "n": 1}, "confidence": confidence})
        conn.execute(
            "INSERT INTO evaluations (id, model_id, teacher, gold_split, n, metrics, teacher_metrics, paired, cascade, "
            "created_at) VALUES (?, ?, 't', 'eval', 1, '{}', '{}', '{}', ?, TIMESTAMPTZ '2026-11-01' + to_days(?))",
            [ident, model, cascade, day],
        )

    with store.transaction() as conn:
        evaluated(conn, "e1", "a", 0.02, 0.95, 1)
        evaluated(conn, "e2", "b", 0.05, 0.95, 2)  # another ε: a separate family
        evaluated(conn, "e3", "c", 0.02, 0.95, 3)
        evaluated(conn, "e4", "a", 0.02, 0.95, 4)  # tested again: keeps its number
    assert candidate_number(store, "a", 0.02, 0.05) == (1, None)
    assert candidate_number(store, "c", 0.02, 0.05)[0] == 2
    assert candidate_number(store, "new", 0.02, 0.05) == (3, None)
    number, other = candidate_number(store, "b", 0.02, 0.05)  # b was certified at ε = 0.05: only newer data for 0.02
    assert number == 3 and other is not None and other.day == 3
