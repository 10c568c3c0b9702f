"""Annotation: a task definition (labels + prompt) and teachers that turn chunks into soft labels."""
