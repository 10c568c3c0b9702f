"""Evaluation on gold: metric functions (plain, no Prefect), paired with the teacher."""
