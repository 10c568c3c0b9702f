"""The tag stage: the cascade's routing, its evaluation on gold, and its store side."""
