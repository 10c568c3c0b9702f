from upscway.tasks.cascade import is_uncertain


def test_low_confidence_or_borderline_relevance_goes_to_the_teacher():
    band = (0.35, 0.65)
    assert not is_uncertain([0.05, 0.9, 0.02, 0.02, 0.01], 0.8, band)
    assert is_uncertain([0.05, 0.6, 0.3, 0.03, 0.02], 0.8, band)          # top 0.6 < 0.8
    assert is_uncertain([0.5, 0.5, 0.0, 0.0, 0.0], 0.4, band)             # relevance 0.5 in the band
    assert not is_uncertain([0.9, 0.1, 0.0, 0.0, 0.0], 0.8, band)         # confidently not relevant
