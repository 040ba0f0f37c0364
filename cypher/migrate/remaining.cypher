// How many Object nodes are left.
MATCH (o:Object)
RETURN count(o) AS objects
