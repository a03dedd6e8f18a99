-- An endpoint's payload filter, its JSON form ('' = none); see docs/filters.md.
ALTER TABLE endpoints ADD COLUMN payload_filter text NOT NULL DEFAULT '';
