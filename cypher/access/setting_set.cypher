MERGE (s:AccessSetting {key: $key})
SET s.value = $value
