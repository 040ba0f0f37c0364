// Facts about the database itself, such as the layout of its objects (name 'layout').
CREATE CONSTRAINT meta_name IF NOT EXISTS FOR (m:Meta) REQUIRE m.name IS UNIQUE
