// The blobs, trees and tags among $ids that are still Object nodes (ids packed already are left out).
UNWIND $ids AS id
MATCH (o:Object {id: id})
WHERE o.type <> 'commit'
RETURN o.id AS id, o.type AS type, o.data AS data
