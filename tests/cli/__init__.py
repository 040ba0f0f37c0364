"""Subprocess tests of the gvcs command line."""
