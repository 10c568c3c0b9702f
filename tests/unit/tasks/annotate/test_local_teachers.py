"""The transformers teacher on a tiny local Qwen2, the embedding teacher on the packaged MiniLM."""

import pytest
import torch

from tests.support.tiny_lm import build_tiny_lm
from upscway.errors import InputError
from upscway.tasks.annotate.embedding_teacher import EmbeddingTeacher
from upscway.tasks.annotate.local_teacher import CausalLMTeacher, verbalizer_token_ids
from upscway.taxonomy import load_task


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    return build_tiny_lm(tmp_path_factory.mktemp("tiny-lm"))


TEXTS = [
    "The Supreme Court ruled on the Governor's powers under Article 200.",
    "India won the T20 match by four wickets in Chennai.",
    "The RBI kept the repo rate unchanged to contain inflation.",
]


def test_causal_lm_teacher_reads_the_verbalizer_logits_in_one_batched_pass(tiny_lm):
    task = load_task()
    teacher = CausalLMTeacher(task, tiny_lm, batch_size=2)
    answers = teacher.annotate(TEXTS)

    assert len(answers) == 3
    for answer in answers:
        assert len(answer.probs) == 5 and sum(answer.probs) == pytest.approx(1.0, abs=1e-5)
        assert 0.0 <= answer.off_label_mass <= 1.0
    # Left padding: a text's distribution does not depend on what it is batched with.
    alone = teacher.annotate(TEXTS[1:2])[0].probs
    assert alone == pytest.approx(answers[1].probs, abs=1e-4)
    # The same numbers as the model's own next-token softmax restricted to the letters.
    enc = teacher.tokenizer(teacher.prompts(TEXTS[:1]), return_tensors="pt", add_special_tokens=False)
    logits = teacher.model(**enc).logits[0, -1, teacher.label_ids]
    assert torch.softmax(logits, -1).tolist() == pytest.approx(answers[0].probs, abs=1e-5)


def test_the_shared_prompt_prefix_is_read_once_and_changes_no_score(tiny_lm):
    task = load_task()
    cached = CausalLMTeacher(task, tiny_lm, batch_size=2)
    plain = CausalLMTeacher(task, tiny_lm, batch_size=3, prefix_cache=False)
    with_cache, without = cached.annotate(TEXTS), plain.annotate(TEXTS)
    for a, b in zip(with_cache, without):
        assert a.probs == pytest.approx(b.probs, abs=1e-5) and a.off_label_mass == pytest.approx(
            b.off_label_mass, abs=1e-5
        )
    prefix, cache = cached._shared_prefix()
    prompt = cached.tokenizer(cached.prompts(TEXTS[:1]), add_special_tokens=False).input_ids[0]
    assert prompt[: len(prefix)] == prefix and len(prefix) > 0.8 * len(prompt)  # the syllabus is most of it
    assert cache.get_seq_length() == len(prefix)  # the batches' copies never grew the shared cache


def test_multi_token_verbalizer_is_refused(tiny_lm):
    teacher = CausalLMTeacher(load_task(), tiny_lm)
    with pytest.raises(InputError, match="exactly one"):
        verbalizer_token_ids(teacher.tokenizer, ["A", "Governance"])


def test_embedding_teacher_gives_sensible_zero_shot_labels():
    task = load_task()
    teacher = EmbeddingTeacher(task)
    answers = teacher.annotate(
        [
            "The batsman hit three sixes as India won the T20 cricket match.",
            "The Supreme Court examined the Governor's assent to State Bills under the Constitution.",
            "The central bank held the repo rate to fight inflation and support economic growth.",
        ]
    )
    assert [task.names[a.label] for a in answers] == ["NOT_RELEVANT", "GS2", "GS3"]
    assert all(sum(a.probs) == pytest.approx(1.0) for a in answers)
    assert teacher.annotator_id == "embedding:all-MiniLM-L6-v2@T0.05"
