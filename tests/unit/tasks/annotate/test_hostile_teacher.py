"""The openai teacher against a hostile server (the loopback one, misbehaving on purpose):
numbers that are not finite, replies of the wrong shape, a reply trickled past the deadline or
larger than the cap, an unreadable Retry-After. Each fails its own chunk, naming what was
wrong; every other chunk is answered; nothing that is not a finite number comes back."""

import json
import math

import pytest

from tests.support.openai_server import LETTERS, OpenAIServer, completion, hashed_label, hostile
from upscway.settings import TeacherSettings
from upscway.tasks.annotate import openai_teacher
from upscway.tasks.annotate.openai_teacher import OpenAITeacher
from upscway.tasks.annotate.teacher import TeacherFailure
from upscway.taxonomy import SoftLabel, load_task

TEXTS = [f"The Finance Commission met on day {i} to discuss devolution." for i in range(5)]
BAD = TEXTS[2]


@pytest.fixture
def server():
    with OpenAIServer() as s:
        yield s


def teacher(server, **overrides) -> OpenAITeacher:
    values = dict(
        backend="openai",
        base_url=server.base_url,
        model="qwen",
        timeout_s=5,
        concurrency=2,
        backoff_base_s=0.01,
        backoff_max_s=0.05,
    )
    return OpenAITeacher(load_task(), TeacherSettings(**{**values, **overrides}))


def only_bad_text(server, behaviour):
    """`behaviour` for BAD, normal answers for every other text."""
    server.default = lambda text: behaviour(text) if text == BAD else server._respond("ok", text)


def assert_only_bad_failed(answers) -> TeacherFailure:
    """BAD's answer is a failure; every other is its label with finite probabilities."""
    for text, answer in zip(TEXTS, answers):
        if text == BAD:
            assert isinstance(answer, TeacherFailure), answer
            continue
        assert isinstance(answer, SoftLabel) and answer.label == hashed_label(text)
        assert all(math.isfinite(p) for p in answer.probs) and sum(answer.probs) == pytest.approx(1.0)
    return answers[TEXTS.index(BAD)]


@pytest.mark.parametrize(
    "name, wrong",
    [
        ("nan-logprobs", "content.0.logprob: Input should be a finite number"),
        ("one-nan-logprob", "top_logprobs.2.logprob: Input should be a finite number"),
        ("infinite-logprob", "top_logprobs.1.logprob: Input should be a finite number"),
        ("logprob-1000", "top_logprobs.0.logprob: Input should be less than or equal to"),
    ],
)
def test_a_logprob_that_is_not_a_finite_log_probability_fails_that_chunk_only(server, name, wrong):
    only_bad_text(server, lambda text: (200, {}, hostile(name, LETTERS[hashed_label(text)])))

    failed = assert_only_bad_failed(teacher(server).annotate(TEXTS))

    assert failed.reason.startswith("reply refused: ") and wrong in failed.reason
    assert server.per_text[BAD] == 2  # asked once more, like an answer that is not a label


@pytest.mark.parametrize(
    "name, wrong",
    [
        ("top-logprobs-strings", "top_logprobs.0: Input should be a valid dictionary"),
        ("no-token", "content.0.token: Field required"),
        ("content-int", "message.content: Input should be a valid string"),
        ("usage-list", "usage: Input should be a valid dictionary"),
        ("usage-huge", "usage.prompt_tokens: Input should be less than 2147483648"),
    ],
)
def test_a_reply_of_the_wrong_shape_fails_that_chunk_only(server, name, wrong):
    only_bad_text(server, lambda text: (200, {}, hostile(name, LETTERS[hashed_label(text)])))

    failed = assert_only_bad_failed(teacher(server).annotate(TEXTS))

    assert failed.reason.startswith("reply refused: ") and wrong in failed.reason


def test_a_reply_trickled_past_the_deadline_is_cut_off_and_retried_then_a_failure(server):
    # Every piece arrives well within the 1 s read timeout; the whole takes 5 s.
    server.trickle_s = 5.0
    only_bad_text(server, lambda text: server._respond("trickle", text))

    failed = assert_only_bad_failed(teacher(server, timeout_s=1, max_retries=1).annotate(TEXTS))

    assert failed.reason == "reply not complete within 1s (gave up after 2 attempts)"
    assert server.per_text[BAD] == 2


def test_a_reply_that_arrives_in_pieces_within_the_deadline_is_read_whole(server):
    server.trickle_s = 0.1
    server.default = "trickle"
    answers = teacher(server).annotate(TEXTS[:2])
    assert [a.label for a in answers] == [hashed_label(t) for t in TEXTS[:2]]


@pytest.mark.parametrize("declared", [False, True], ids=["streamed", "content-length"])
def test_a_reply_larger_than_the_cap_is_refused_unread_and_not_asked_again(server, declared):
    cap = 64 << 10
    if declared:  # refused from its Content-Length, before the body is read
        big = json.dumps({**completion("A"), "padding": "x" * (2 * cap)}).encode()
        only_bad_text(server, lambda text: (200, {}, big))
    else:  # 64 MiB without a length: read no further than the cap
        only_bad_text(server, lambda text: server._respond("huge", text))

    failed = assert_only_bad_failed(teacher(server, max_reply_bytes=cap).annotate(TEXTS))

    assert failed.reason == f"reply larger than teacher.max_reply_bytes ({cap} bytes)"
    assert server.per_text[BAD] == 1  # a server that sends too much will again


@pytest.mark.parametrize("value", ["soon", "Infinity", "Thu, 99 Foo 2026 25:61:00 GMT"])
def test_429_with_an_unreadable_retry_after_is_retried_with_backoff(server, value):
    server.script = ["429"]
    server.retry_after = value

    answer = teacher(server, concurrency=1).annotate(TEXTS[:1])[0]

    assert isinstance(answer, SoftLabel) and answer.label == hashed_label(TEXTS[0])
    assert server.requests == 2


def test_anything_raised_for_one_chunk_is_that_chunks_failure(server, monkeypatch):
    """A bug or a reply nobody foresaw, here a distribution that raises: one failure, not the batch."""
    real = openai_teacher.label_distribution

    def broken_for_e(listed, verbalizers):
        if listed[0][0] == "E":
            raise ZeroDivisionError("float division by zero")
        return real(listed, verbalizers)

    monkeypatch.setattr(openai_teacher, "label_distribution", broken_for_e)
    server.label_for = lambda text: 4 if text == BAD else 0

    answers = teacher(server).annotate(TEXTS)

    assert [isinstance(a, TeacherFailure) for a in answers] == [t == BAD for t in TEXTS]
    assert answers[TEXTS.index(BAD)].reason == "ZeroDivisionError: float division by zero"
