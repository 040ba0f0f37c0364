// API tokens (gvcs token create): only the SHA-256 digest of a token is stored.
CREATE CONSTRAINT api_token_id IF NOT EXISTS FOR (t:ApiToken) REQUIRE t.id IS UNIQUE
