-- 0042 removed the administrative areas (GeoNames class A) an earlier `places import` had taken in as
-- towns, but kept those an incident names by place_id, and kept them usable: a kept "Muhafazat Hims" still
-- made "Homs" ambiguous, and a kept "Syrian Arab Republic" went on naming incidents near its centroid by
-- reverse geocoding. Those are exactly the ones that had misfired. They go too. An incident keeps its
-- place_id and every field it was given; the place it names answers 404, as an editor's deleted place
-- does (place_id has had no foreign key since 0016). Their names go with them (place_names cascades).
DELETE FROM places
WHERE source = 'geonames' AND (kind ~ '^(ADM|PCL)' OR kind IN ('A', 'LTER', 'PRSH', 'TERR', 'ZN', 'ZNB'));
