"""Storage backends implementing :class:`~narrative_vcs.store.ObjectStore` and
:class:`~narrative_vcs.refs.RefStore`: ``git`` (pygit2, the embedded default) and, later, ``neo4j``."""
