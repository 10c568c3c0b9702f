-- Every gate decision, newest first, with the model's chain and stage and what it was certified
-- on (ε, δ, threshold, the risk's upper bound, offload, the loss and its sample's size).
SELECT d.created_at, d.model_id, m.chain, m.stage, d.verdict, d.max_loss, d.risk_level, d.certified_threshold,
       d.risk_upper_bound, d.certified_offload, d.certificate_loss, d.certificate_n, d.forced, d.force_reason, d.reasons
FROM gate_decisions d LEFT JOIN models m ON m.id = d.model_id
ORDER BY d.id DESC;
