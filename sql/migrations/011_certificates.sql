-- What each gate decision was certified on (the cascade's certificate, issue 22): ε and δ,
-- the certified threshold (NULL: nothing certified), the upper bound of the risk there, the
-- share the student decides, which loss was bounded (consistency: held-out teacher answers;
-- accuracy: gold sampled at random), the calibration sample's size, and the sentence stating it.
ALTER TABLE gate_decisions ADD COLUMN max_loss DOUBLE;
ALTER TABLE gate_decisions ADD COLUMN risk_level DOUBLE;
ALTER TABLE gate_decisions ADD COLUMN certified_threshold DOUBLE;
ALTER TABLE gate_decisions ADD COLUMN risk_upper_bound DOUBLE;
ALTER TABLE gate_decisions ADD COLUMN certified_offload DOUBLE;
ALTER TABLE gate_decisions ADD COLUMN certificate_loss VARCHAR;
ALTER TABLE gate_decisions ADD COLUMN certificate_n INTEGER;
ALTER TABLE gate_decisions ADD COLUMN certificate_sentence VARCHAR;
