"""The repository API in layers: each module one concern, composed by :mod:`narrative_vcs.repository`."""
