"""git's smart HTTP protocol at ``/git`` of ``gvcs serve`` (:mod:`api.git.http`)."""
