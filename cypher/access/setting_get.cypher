MATCH (s:AccessSetting {key: $key})
RETURN s.value AS value
