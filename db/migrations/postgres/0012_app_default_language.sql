-- The language an application's shopper pages speak when the shopper's browser names none
-- Kassa speaks (a BCP 47 base code: en, fr, pt, sw, ny, hi); empty means English.
ALTER TABLE apps ADD COLUMN default_language TEXT NOT NULL DEFAULT '';
