CREATE INDEX page_title IF NOT EXISTS FOR (p:Page) ON (p.title)
