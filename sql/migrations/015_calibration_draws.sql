-- The guarantee in the loop (issue 32): a calibration draw of articles every night, and the
-- anytime-valid live check's state.

-- One row per article drawn for calibration in a tag run: the teacher answered (and decided)
-- every chunk of it, whatever the student thought; no student ever trains on it. Each of the
-- night's articles is drawn independently with `probability` (Bernoulli sampling), so the
-- draws are a uniform sample of the news with a known inclusion probability.
CREATE TABLE calibration_draws (
    flow_run_id  VARCHAR NOT NULL,
    article_id   VARCHAR NOT NULL,
    probability  DOUBLE NOT NULL,
    model_id     VARCHAR,                 -- the production student that night (NULL: none)
    created_at   TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

-- A night's calibration cost and the live check: the change-point e-detector's value after
-- the night (an alarm at 1/δ), tonight's anytime-valid upper bound of the certified loss, and
-- whether tonight's offload was withheld because that bound was above ε.
ALTER TABLE cascade_nights ADD COLUMN calibration_articles INTEGER;
ALTER TABLE cascade_nights ADD COLUMN calibration_requests INTEGER;
ALTER TABLE cascade_nights ADD COLUMN detector DOUBLE;
ALTER TABLE cascade_nights ADD COLUMN withheld BOOLEAN;
-- The per-night level alpha and the Clopper–Pearson lower bound belonged to the retired
-- alpha-spending audit (its level shrank like 1/k², so it went blind with age): NULL from now on.
ALTER TABLE cascade_nights ALTER COLUMN alpha DROP NOT NULL;
ALTER TABLE cascade_nights ALTER COLUMN live_lower DROP NOT NULL;
