// A new API token; the constraints refuse a repeated id or digest.
CREATE (:ApiToken {id: $id, actor: $actor, digest: $digest, created: $created, label: $label})
