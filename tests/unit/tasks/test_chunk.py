import pytest

from upscway.tasks.chunk import Chunker, load_tokenizer, split_paragraphs, split_sentences


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("minilm")


def sentences(text):
    return [text[s:e] for s, e in split_sentences(text)]


def test_sentence_split_respects_abbreviations_initials_and_decimals():
    text = (
        "Dr. A.P.J. Abdul Kalam addressed the gathering. The repo rate stays at 5.5% for now. "
        "Mr. Rao said the Govt. will act, i.e. soon! Will it? Yes."
    )
    assert sentences(text) == [
        "Dr. A.P.J. Abdul Kalam addressed the gathering.",
        "The repo rate stays at 5.5% for now.",
        "Mr. Rao said the Govt. will act, i.e. soon!",
        "Will it?",
        "Yes.",
    ]


def test_paragraph_spans_skip_blank_lines():
    text = "First para.\n\n  Second para.  \nThird."
    assert [text[s:e] for s, e in split_paragraphs(text)] == ["First para.", "Second para.", "Third."]


def _article(n_paragraphs=6, sentences_per=5):
    paras = []
    for p in range(n_paragraphs):
        paras.append(
            " ".join(
                f"Paragraph {p} sentence {s} explains how the panchayat plans water budgets for the district."
                for s in range(sentences_per)
            )
        )
    return "\n".join(paras)


def test_chunks_are_bounded_exact_slices_ending_on_sentence_boundaries(tokenizer):
    text = _article()
    chunker = Chunker(tokenizer, target_tokens=60, overlap_tokens=15)
    chunks = chunker.split(text)

    assert len(chunks) > 3
    ends = {e for s, e in split_sentences(text)}
    starts = {s for s, e in split_sentences(text)}
    for chunk in chunks:
        assert chunk.text == text[chunk.char_start : chunk.char_end]
        assert chunk.token_count == chunker.count(chunk.text) <= 60
        assert chunk.char_start in starts and chunk.char_end in ends
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert chunks[0].char_start == 0 and chunks[-1].char_end == len(text)


def test_consecutive_chunks_overlap_by_whole_sentences_within_budget(tokenizer):
    text = _article(n_paragraphs=2, sentences_per=12)
    chunker = Chunker(tokenizer, target_tokens=80, overlap_tokens=25)
    chunks = chunker.split(text)
    for before, after in zip(chunks, chunks[1:]):
        assert after.char_start < before.char_end, "no overlap"
        assert chunker.count(text[after.char_start : before.char_end]) <= 25 + 2


def test_no_overlap_when_zero(tokenizer):
    chunks = Chunker(tokenizer, target_tokens=60, overlap_tokens=0).split(_article())
    for before, after in zip(chunks, chunks[1:]):
        assert after.char_start >= before.char_end


def test_a_paragraph_that_fits_is_not_split_across_chunks(tokenizer):
    short = "The Finance Commission recommends how taxes are shared. States receive a formula-based share."
    text = "\n".join([short, short.replace("Finance", "Election"), short.replace("Finance", "Law")])
    chunker = Chunker(tokenizer, target_tokens=40, overlap_tokens=0)
    chunks = chunker.split(text)
    assert len(chunks) == 2  # two paragraphs fit in 40 tokens, the third starts a new chunk
    for start, end in split_paragraphs(text):
        assert any(c.char_start <= start and end <= c.char_end for c in chunks), text[start:end]


def test_only_a_sentence_longer_than_the_bound_is_cut(tokenizer):
    long_sentence = "The committee, " + ", ".join(f"member {i} of the panel" for i in range(80)) + ", agreed."
    text = "A short opener. " + long_sentence + " A short closer."
    chunker = Chunker(tokenizer, target_tokens=50, overlap_tokens=0)
    chunks = chunker.split(text)
    assert all(c.token_count <= 50 for c in chunks)
    assert chunks[0].char_start == 0 and chunks[-1].char_end == len(text)
    for before, after in zip(chunks, chunks[1:]):
        assert text[before.char_end : after.char_start].strip() == ""  # nothing lost between chunks
    cut_inside = [c for c in chunks if c.char_end not in {e for _, e in split_sentences(text)}]
    assert cut_inside and all(c.char_start >= text.index("The committee") for c in cut_inside)


def test_overlap_must_be_smaller_than_target(tokenizer):
    with pytest.raises(ValueError):
        Chunker(tokenizer, target_tokens=10, overlap_tokens=10)


def test_empty_text_gives_no_chunks(tokenizer):
    assert Chunker(tokenizer, 50, 5).split("  \n ") == []
