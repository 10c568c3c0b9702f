-- Every gate decision, newest first, with the model's chain and stage.
SELECT d.created_at, d.model_id, m.chain, m.stage, d.verdict, d.forced, d.force_reason, d.reasons
FROM gate_decisions d LEFT JOIN models m ON m.id = d.model_id
ORDER BY d.id DESC;
