-- How each gold label's chunk came to be reviewed, so that a statistic that needs a random
-- sample of the news (an accuracy certificate) can tell which gold is one:
--   random        a uniform sample of the chunks not yet verified (`gold export --strategy random`);
--                 sampling_probability is the chance each of them had of being drawn
--   uncertainty   the exporting annotator's least confident chunks
--   disagreement  chunks two annotators disagreed on
--   authored      a paragraph written for review (a row with text and no chunk id: the bundled set)
--   NULL          imported before this was recorded, or from a sheet without the column
ALTER TABLE gold_labels ADD COLUMN sampling VARCHAR;
ALTER TABLE gold_labels ADD COLUMN sampling_probability DOUBLE;
