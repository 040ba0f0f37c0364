"""gvcs: version control for stories."""

__version__ = "0.1.0"
