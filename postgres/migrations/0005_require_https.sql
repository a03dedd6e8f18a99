-- Applications may refuse http:// endpoint URLs (hookd's requireHttps extension).
ALTER TABLE apps ADD COLUMN require_https boolean NOT NULL DEFAULT false;
