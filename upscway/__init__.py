"""UPSCWay: tag Indian news for UPSC aspirants with a teacher LLM distilled into small students."""

__version__ = "0.1.0"
