-- The cascade night by night: what the student decided, the audit, the live consistency loss
-- (estimate and bounds at the night's spent level), ε, and whether it fell back to the teacher.
-- param: limit = 30  # nights, newest first
SELECT strftime(created_at, '%Y-%m-%d %H:%M') AS night_of, model_id, night, chunks, decided, audited, disagreements,
       round(live_estimate, 4) AS live_estimate, round(live_lower, 4) AS live_lower, round(live_upper, 4) AS live_upper,
       max_loss AS epsilon, alpha, fallback, teacher_requests, audit_requests, requests_saved
FROM cascade_nights
ORDER BY created_at DESC
LIMIT CAST($limit AS INTEGER);
