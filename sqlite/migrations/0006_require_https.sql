-- Applications may refuse http:// endpoint URLs (hookd's requireHttps extension).
ALTER TABLE applications ADD COLUMN require_https INTEGER NOT NULL DEFAULT 0;
