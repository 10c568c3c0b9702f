"""Answers computed elsewhere: the one parser of their JSONL lines (each bad line named with
its reason, nothing of a bad file used) and the `recorded` teacher that answers from a file."""

import json

import pytest

from upscway.errors import InputError
from upscway.hashing import text_hash
from upscway.settings import TeacherSettings
from upscway.tasks.annotate.recorded import (
    NO_ANSWER,
    InvalidAnswers,
    RecordedTeacher,
    parse_lines,
    read_answer_file,
)
from upscway.tasks.annotate.teacher import TeacherFailure
from upscway.tasks.annotate.teachers import annotator_of, make_teacher
from upscway.taxonomy import SoftLabel, load_task

TASK = load_task()  # labels NOT_RELEVANT, GS1, GS2, GS3, GS4
TEXTS = ["The Finance Commission met to discuss devolution.", "The monsoon session of Parliament opens."]
MODEL = "Qwen/Qwen2.5-72B-Instruct"


def line(**fields) -> str:
    """A valid line for the first text (label GS2) with `fields` changed; a value of ... drops the key."""
    item = {"text_hash": text_hash(TEXTS[0]), "label": "GS2", "model": MODEL, "prompt_version": TASK.version}
    item.update(fields)
    return json.dumps({k: v for k, v in item.items() if v is not ...})


def parse(*lines: str):
    return parse_lines("\n".join(lines), TASK)


def test_a_label_a_probs_object_and_a_probs_list_become_probabilities_in_label_order():
    probs = [0.1, 0.1, 0.2, 0.5, 0.1]
    lines, answers, errors = parse(
        line(),
        "",  # blank lines are skipped, and keep the line numbers as an editor shows them
        line(text_hash=..., chunk_id="a-1", label=None, probs={"GS3": 0.6, "GS1": 0.4}, rationale="economy"),
        line(text_hash=text_hash(TEXTS[1]), label=..., probs=[p * 1.0004 for p in probs], tokens_in=120, cost=0.002),
    )
    assert (lines, errors) == (3, [])  # a null is a key left out
    one_hot, by_name, listed = answers
    assert (one_hot.line, one_hot.probs, one_hot.model, one_hot.chunk_id) == (1, (0, 0, 1, 0, 0), MODEL, None)
    assert (by_name.line, by_name.chunk_id, by_name.text_hash, by_name.probs) == (3, "a-1", None, (0, 0.4, 0, 0.6, 0))
    assert by_name.rationale == "economy"
    assert listed.probs == pytest.approx(probs, abs=1e-12) and sum(listed.probs) == pytest.approx(1, abs=1e-12)
    assert (listed.tokens_in, listed.tokens_out, listed.cost, listed.latency_ms) == (120, 0, 0.002, 0.0)


@pytest.mark.parametrize(
    "bad, reason",
    [
        ("{not json", "not JSON: "),
        ('["GS1"]', "a line is one JSON object, this is a list"),
        (line(lable="GS1"), "unknown key 'lable'; a line has 'text_hash', 'chunk_id', 'label', 'probs'"),
        (line(text_hash=...), "exactly one of text_hash or chunk_id, this one neither"),
        (line(chunk_id="a-1"), "exactly one of text_hash or chunk_id, this one both"),
        (line(text_hash="ABC123"), "text_hash must be the sha256 of the chunk's text in hex (64 digits 0-9a-f)"),
        (line(text_hash=..., chunk_id=""), "chunk_id must be a stored chunk's id, got ''"),
        (line(label=...), "exactly one of label or probs, this one neither"),
        (line(probs=[1, 0, 0, 0, 0]), "exactly one of label or probs, this one both"),
        (line(label="GS9"), "label 'GS9' is not one of NOT_RELEVANT, GS1, GS2, GS3, GS4"),
        (line(label=..., probs=[0.5, 0.5]), "probs has 2 numbers, the task 5 labels"),
        (line(label=..., probs={"GS5": 1.0}), "probs names 'GS5', not a label of the task"),
        (line(label=..., probs={"GS1": -0.1, "GS2": 1.1}), "probs of GS1 must be finite numbers at least 0"),
        (line(label=..., probs={"GS1": "1"}), "probs of GS1 must be finite numbers at least 0"),
        (line(label=..., probs={"GS1": 0.5, "GS2": 0.4}), "probs sum to 0.9, not 1 (within 0.001)"),
        (line(label=..., probs="GS1"), "probs must be a list in label order or an object"),
        (line(model=...), "model (what answered, e.g. Qwen/Qwen2.5-72B-Instruct) must be given, got None"),
        (line(model=" "), "model (what answered"),
        (line(prompt_version="0123abcd0123"), "prompt_version '0123abcd0123' is not task upsc_gs's version"),
        (line(rationale=3), "rationale must be text, got 3"),
        (line(tokens_in=-1), "tokens_in must be a whole number from 0 to 2147483647, got -1"),
        (line(tokens_out=1.5), "tokens_out must be a whole number"),
        (line(tokens_out=True), "tokens_out must be a whole number"),
        (line(cost=-0.5), "cost must be a finite number at least 0, got -0.5"),
        (line().replace('"GS2"', '"GS2", "latency_ms": NaN'), "latency_ms must be a finite number at least 0, got nan"),
        (line().replace('"GS2"', '"GS2", "cost": 1e999'), "cost must be a finite number at least 0, got inf"),
    ],
)
def test_each_kind_of_bad_line_is_an_error_naming_its_line(bad, reason):
    lines, answers, errors = parse(line(text_hash=text_hash(TEXTS[1])), "  ", bad, line())
    assert lines == 3 and len(answers) == 2
    assert len(errors) == 1 and errors[0][0] == 3 and reason in errors[0][1], errors


def test_a_prompt_version_of_another_prompt_names_both_versions():
    ((_, reason),) = parse(line(prompt_version="feedbeef0000"))[2]
    assert "'feedbeef0000'" in reason and repr(TASK.version) in reason and "never be used" in reason


def test_the_same_chunk_twice_is_one_answer_when_equal_and_an_error_on_the_later_line_when_not():
    other = text_hash(TEXTS[1])
    lines, answers, errors = parse(
        line(),
        line(text_hash=other),
        line(label=..., probs={"GS2": 1.0}),  # the same answer as line 1, spelt otherwise: kept once
        line(label="GS3"),
        line(text_hash=..., chunk_id="a-1"),
        line(text_hash=..., chunk_id="a-1", model="another"),
    )
    assert lines == 6 and [a.line for a in answers] == [1, 2, 5]
    assert errors == [
        (4, f"text_hash {text_hash(TEXTS[0])} again, with another answer than on line 1"),
        (6, "chunk_id 'a-1' again, with another answer than on line 5"),
    ]


def test_an_invalid_file_is_refused_naming_the_file_and_its_first_bad_lines(tmp_path):
    path = tmp_path / "answers.jsonl"
    path.write_text("\n".join([line(label=f"GS{9 + i}") for i in range(7)] + [line(text_hash=text_hash("x"))]) + "\n")
    read = read_answer_file(path, TASK)
    refused = InvalidAnswers(path, read.errors, read.lines, "nothing imported")
    message = str(refused)
    assert message.startswith(f"7 of 8 lines of the answers file {path} are invalid; nothing imported:")
    assert f"{path}:1: label 'GS9' is not one of" in message and f"{path}:5: label 'GS13'" in message
    assert f"{path}:6:" not in message and f"{path}: … and 2 more invalid lines" in message
    assert [n for n, _ in refused.errors] == list(range(1, 8))

    with pytest.raises(InputError, match="answers file .*missing.jsonl does not exist"):
        read_answer_file(tmp_path / "missing.jsonl", TASK)


def _file(tmp_path, *lines) -> str:
    path = tmp_path / "qwen-batch.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_recorded_teacher_answers_a_text_it_has_and_fails_one_it_lacks(tmp_path):
    path = _file(tmp_path, line(label=..., probs=[0, 0.2, 0.7, 0.1, 0], tokens_out=3, latency_ms=250.0))
    settings = TeacherSettings(backend="recorded", answers_file=path)
    teacher = make_teacher(TASK, settings)
    heard = []

    found, missing = teacher.annotate(TEXTS, on_answer=lambda i, a: heard.append(i))

    assert teacher.annotator_id == annotator_of(settings) == "recorded:qwen-batch"
    assert isinstance(found, SoftLabel) and found.label == 2 and found.probs == pytest.approx([0, 0.2, 0.7, 0.1, 0])
    assert (found.tokens_out, found.latency_s, found.extra) == (3, 0.25, {"model": MODEL})
    assert missing == TeacherFailure(NO_ANSWER) and heard == [0, 1]
    assert annotator_of(settings.model_copy(update={"annotator": "qwen72b"})) == "qwen72b"

    path.write_text("\n")  # no answers yet (a file that grows): every text fails, none is an error
    assert make_teacher(TASK, settings).annotate(TEXTS) == [TeacherFailure(NO_ANSWER)] * 2


def test_the_recorded_teacher_refuses_chunk_id_lines_a_bad_file_and_a_missing_setting_or_file(tmp_path):
    with pytest.raises(
        InvalidAnswers, match=r"qwen-batch.jsonl:2: gives chunk_id: the recorded teacher finds"
    ) as refused:
        RecordedTeacher(TASK, _file(tmp_path, line(), line(text_hash=..., chunk_id="a-1")))
    assert "the recorded teacher answers nothing from it" in str(refused.value)
    with pytest.raises(InvalidAnswers, match=r"qwen-batch.jsonl:1: label 'GS7'"):
        RecordedTeacher(TASK, _file(tmp_path, line(label="GS7")))
    with pytest.raises(InputError, match="the recorded teacher needs teacher.answers_file"):
        make_teacher(TASK, TeacherSettings(backend="recorded"))
    with pytest.raises(InputError, match="the recorded teacher needs teacher.answers_file"):
        annotator_of(TeacherSettings(backend="recorded"))
    with pytest.raises(InputError, match=f"answers file {tmp_path}/gone.jsonl does not exist"):
        make_teacher(TASK, TeacherSettings(backend="recorded", answers_file=tmp_path / "gone.jsonl"))
