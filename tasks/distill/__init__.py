"""Distillation: the KD loss over label distributions, training data from the store, students."""
