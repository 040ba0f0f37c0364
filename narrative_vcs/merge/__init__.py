"""The merge engine: mergeable contents per kind of story content, merge bases, conflicts as values."""
