// The migration's last step before the layout is set: no object is written as an Object node any more.
DROP CONSTRAINT object_id IF EXISTS
