// How this database stores git objects: the layout version on (:Meta {name: 'layout'}) (2: blobs, trees
// and tags in Pack nodes, commits on their Commit nodes), the mark `gvcs migrate` sets while it runs
// (writes are refused while it is there), and whether Object nodes of the first layout (a node per
// object, no Meta node) are present (a label scan that stops at the first).
OPTIONAL MATCH (m:Meta {name: 'layout'})
RETURN m.version AS version, m.migrating AS migrating, EXISTS { MATCH (:Object) } AS legacy
