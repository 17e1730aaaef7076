"""llmatlas: pick the right large language model for your application, with evidence."""

__version__ = "0.1.0"
