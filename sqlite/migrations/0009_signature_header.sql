-- The header an endpoint of a hex profile receives its signature in ('' = the profile's).
ALTER TABLE endpoints ADD COLUMN signature_header TEXT NOT NULL DEFAULT '';
