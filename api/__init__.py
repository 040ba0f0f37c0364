"""Network entry points of gvcs."""
