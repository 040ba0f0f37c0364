// Access settings of the API (reads: open or token).
CREATE CONSTRAINT access_setting_key IF NOT EXISTS FOR (s:AccessSetting) REQUIRE s.key IS UNIQUE
