// What `gvcs migrate` finds before it starts: the layout on (:Meta {name: 'layout'}), the mark of a
// migration under way or cut short (who, and how many milliseconds since it last wrote, by the server's
// clock), and whether anything of the first layout is left: Object nodes, or Commit nodes without their
// raw object (stored before commits kept it).
OPTIONAL MATCH (m:Meta {name: 'layout'})
RETURN
  m.version AS version,
  m.migrating AS migrating,
  timestamp() - m.migrating_seen AS quiet,
  EXISTS { MATCH (:Object) } AS legacy,
  EXISTS {
    MATCH (c:Commit)
    WHERE c.raw IS NULL
  } AS unfilled
