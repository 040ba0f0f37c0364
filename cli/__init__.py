"""The ``gvcs`` command line. Entry point: :func:`cli.main.main`."""
