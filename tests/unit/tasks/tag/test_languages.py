"""Which chunk texts an English student may decide, and how a night's other languages are counted."""

from upscway.records import ChunkRef
from upscway.settings import CascadeSettings
from upscway.tasks.tag.languages import is_served, other_languages, skip_filter, student_hashes


def test_unknown_and_served_languages_are_the_students_and_a_text_also_in_another_language_is_not():
    chunks = [
        ChunkRef("c1", "h1", "en"),
        ChunkRef("c2", "h2", None),
        ChunkRef("c3", "h3", "hi"),
        ChunkRef("c4", "h4", "hi"),
        ChunkRef("c4b", "h4", "en"),
    ]  # h4: the same text in a Hindi and an English article
    assert student_hashes(chunks, ("en",)) == ["h1", "h2"]
    assert is_served(None, ()) and is_served("", ("en",)) and not is_served("ta", ("en", "hi"))


def test_routed_chunks_in_other_languages_are_counted_by_language_and_only_skipping_filters_the_query():
    chunks = [
        ChunkRef("c1", "h1", "en"),
        ChunkRef("c2", "h2", "hi"),
        ChunkRef("c3", "h3", "hi"),
        ChunkRef("c4", "h4", "ta"),
    ]
    teacher = CascadeSettings()
    assert other_languages(None, "upsc_gs", chunks, None, teacher) == {
        "route": "teacher",
        "chunks": 3,
        "languages": {"hi": 2, "ta": 1},
    }
    assert other_languages(None, "upsc_gs", chunks[:1], None, teacher) is None
    assert skip_filter(teacher) is None and skip_filter(CascadeSettings(other_languages="skip")) == ("en",)
