// How this database stores git objects: the layout version on (:Meta {name: 'layout'}) (2: blobs, trees
// and tags in Pack nodes, commits on their Commit nodes), and whether Object nodes of the first layout
// (a node per object, no Meta node) are present.
OPTIONAL MATCH (m:Meta {name: 'layout'})
RETURN m.version AS version, EXISTS { MATCH (:Object) } AS legacy
