MATCH (o:Object)
RETURN count(o) AS objects
