-- The cascade as deployed, evaluated on gold (operating curve, chosen and configured
-- threshold), and the threshold at which a promoted model's cascade was validated: `tag`
-- routes with it while that model is in production.
ALTER TABLE evaluations ADD COLUMN cascade JSON;
ALTER TABLE alias_moves ADD COLUMN confidence_threshold DOUBLE;
