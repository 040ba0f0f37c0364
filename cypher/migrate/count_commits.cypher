// How many commits there are, and how many of them history packing has passed (seq <= $after).
MATCH (c:Commit)
RETURN count(c) AS commits, count(CASE WHEN c.seq <= $after THEN 1 END) AS done
