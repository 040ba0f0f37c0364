"""Views of the story in a browser, served by ``gvcs serve`` below ``/view/`` (docs/views.md)."""
