"""The pipeline's work, by stage: plain functions, with thin Prefect task wrappers beside them."""
