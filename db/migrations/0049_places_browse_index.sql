-- The places collection without q is browsed by population, largest first, then id, in pages with a cursor
-- (PlacesApi.Search). Nothing served that order: every page read and sorted all 135,000 places, building each
-- one's feature first, about a second a page (GDAL before 3.8 asks for 10 places a page). The key is negated so
-- that one ascending row comparison, (key, id) > (the last page's), continues a page where the last one ended.
CREATE INDEX places_browse_idx ON places ((-(coalesce(population, -1)::bigint)), id);
