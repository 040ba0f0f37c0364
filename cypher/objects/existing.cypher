// Which of these ids are stored outside packs: as commits (Commit nodes) or in the old layout (Object
// nodes). The packs are looked up in the reader's own index.
UNWIND $ids AS id
WITH id
WHERE EXISTS { MATCH (:Commit {id: id}) } OR EXISTS { MATCH (:Object {id: id}) }
RETURN id
