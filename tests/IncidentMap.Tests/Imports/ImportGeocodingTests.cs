using System.Net;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Places;
using IncidentMap.Tests.Trust;
using static IncidentMap.Tests.Imports.ImportHelpers;

namespace IncidentMap.Tests.Imports;

/// <summary>
/// Imports geocode by the rules of single writes: a row with a place name and no coordinates gets the
/// place's point (an ambiguous or unknown name is a rejected row listing the places, never a guess),
/// and a row with a point gets whichever place fields it lacks from the nearest place. Each test's
/// places are its own, in an empty stretch of the Southern Ocean, so other tests' places never compete.
/// </summary>
[Collection(ImportsCollection.Name)]
public sealed class ImportGeocodingTests(ImportsFixture api)
{
    private const string Csv = "text/csv";
    private const string NdJson = "application/x-ndjson";

    private readonly HttpClient _client = api.CreateClient();

    /// <summary>
    /// A point in the empty Southern Ocean whose strip (the tests put places up to 3° east of it) has no place within
    /// 30 km, more than reverse geocoding reaches: two random points a test apart once fell 4 km from each other, and a
    /// row took the earlier test's village (CI). The tests of the collection run one at a time, so what is free stays so.
    /// </summary>
    private async Task<(double Lon, double Lat)> SomewhereAsync()
    {
        while (true)
        {
            var (lon, lat) = (-150 + Random.Shared.NextDouble() * 20, -62 + Random.Shared.NextDouble() * 4);
            if (await api.Database.ScalarAsync<bool>("""
                    SELECT NOT EXISTS (SELECT FROM places
                                       WHERE ST_DWithin(geog, ST_MakeEnvelope(@lon, @lat, @lon + 3, @lat, 4326)::geography, 30000))
                    """, new { lon, lat }))
                return (lon, lat);
        }
    }

    private async Task<JsonObject> ImportedAsync(string externalId)
    {
        var id = await api.Database.ScalarAsync<long>("SELECT id FROM incidents WHERE external_id = @externalId AND deleted_at IS NULL", new { externalId });
        return await _client.GetJsonAsync($"/collections/incidents/items/{id}");
    }

    /// <summary>What geocoding decides about a feature: its point and the place fields.</summary>
    private static string Placed(JsonNode feature)
    {
        var p = feature["properties"]!;
        return new JsonObject
        {
            ["geometry"] = feature["geometry"]!.DeepClone(),
            ["location_name"] = p["location_name"]?.DeepClone(), ["admin1"] = p["admin1"]?.DeepClone(),
            ["country"] = p["country"]?.DeepClone(), ["geo_precision"] = p["geo_precision"]?.DeepClone(),
            ["place_id"] = p["place_id"]?.DeepClone(), ["derived_fields"] = p["derived_fields"]?.DeepClone(),
        }.ToJsonString();
    }

    /// <summary>The same row written alone, as a single write: what the import must have made of it.</summary>
    private async Task<string> SingleWriteAsync(JsonObject feature)
    {
        var (response, body) = await _client.PostAsync(feature);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode}: {body}");
        return Placed(body!);
    }

    [Fact]
    public async Task A_CSV_without_coordinates_is_geocoded_by_location_name_and_an_unclear_name_is_a_rejected_row_naming_the_places()
    {
        var prefix = Unique();
        var (lon, lat) = await SomewhereAsync();
        var village = await _client.AddPlaceAsync($"Qaryat {prefix}", lon, lat, "SY", "Homs", "village");
        await _client.AddPlaceAsync($"Twin {prefix}", lon + 1, lat, "SY", null, "village");
        var lebanese = await _client.AddPlaceAsync($"Twin {prefix}", lon + 2, lat, "LB", null, "village");
        await _client.AddPlaceAsync($"Nowhereville {prefix}", lon + 3, lat, "SY", null, "village");
        var csv = $"""
            external_id,title,event_type,occurred_at,location_name,country
            {prefix}-1,Shelling,battles,2016-02-21,Qaryat {prefix},
            {prefix}-2,Clash,battles,2016-02-21,Twin {prefix},
            {prefix}-3,Clash,battles,2016-02-21,Twin {prefix},LB
            {prefix}-4,Raid,battles,2016-02-21,Nowherevile {prefix},SY
            {prefix}-5,Shelling again,battles,2016-02-22,Qaryat {prefix},
            """;

        var report = await _client.ImportOkAsync(csv, Csv, "?source=" + prefix, inserted: 3, updated: 0, unchanged: 0, rejected: 2);

        var problems = Problems(report);
        Assert.Equal([(3L, "properties.location_name", "location_name"), (5L, "properties.location_name", "location_name")],
            problems.Select(p => (p.Line, p.Field, p.Column)));
        Assert.Contains($"'Twin {prefix}' matches 2 places", problems[0].Reason);
        Assert.Contains($"It could be Twin {prefix} (", problems[0].Reason);
        Assert.Contains($"Twin {prefix} (SY)", problems[0].Reason);
        Assert.Contains($"Twin {prefix} (LB)", problems[0].Reason);
        Assert.Contains($"did you mean Nowhereville {prefix} (SY)", problems[1].Reason);

        var first = await ImportedAsync($"{prefix}-1");
        Assert.Equal(village, first["properties"]!["place_id"]!.GetValue<long>());
        Assert.Equal(["geometry", "geo_precision", "country", "admin1"], first["properties"]!["derived_fields"]!.AsArray().Select(d => d!.GetValue<string>()));
        Assert.Equal(await SingleWriteAsync(PlaceHelpers.Unlocated($"Qaryat {prefix}")), Placed(first));
        Assert.Equal(lebanese, (await ImportedAsync($"{prefix}-3"))["properties"]!["place_id"]!.GetValue<long>());
        Assert.Equal(village, (await ImportedAsync($"{prefix}-5"))["properties"]!["place_id"]!.GetValue<long>());

        // What was derived is derived the same again: a second import changes nothing.
        await _client.ImportOkAsync(csv, Csv, "?source=" + prefix, inserted: 0, updated: 0, unchanged: 3, rejected: 2);
        Assert.Equal((3L, 3L, 3L), await HistoryCountsAsync(prefix));
    }

    [Fact]
    public async Task A_file_that_sets_a_derived_geo_precision_makes_it_its_own()
    {
        var prefix = Unique();
        var (lon, lat) = await SomewhereAsync();
        await _client.AddPlaceAsync($"Kafr {prefix}", lon, lat, "SY", "Idlib", "village");
        await _client.ImportOkAsync($"external_id,title,event_type,occurred_at,location_name\n{prefix}-1,Raid,battles,2016-02-21,Kafr {prefix}\n",
            Csv, "?source=" + prefix, inserted: 1, updated: 0, unchanged: 0, rejected: 0);
        var export = await _client.GetStringAsync($"/collections/incidents/items?f=csv&filter={Uri.EscapeDataString($"external_id = '{prefix}-1'")}");
        Assert.Contains(",town,", export);

        await _client.ImportOkAsync(export.Replace(",town,", ",near,"), Csv, "?source=" + prefix, inserted: 0, updated: 1, unchanged: 0, rejected: 0);

        var properties = (await ImportedAsync($"{prefix}-1"))["properties"]!;
        Assert.Equal("near", properties["geo_precision"]!.GetValue<string>());
        Assert.Equal(["geometry", "country", "admin1"], properties["derived_fields"]!.AsArray().Select(d => d!.GetValue<string>()));
    }

    /// <summary>
    /// A row with its geocoded incident's own point that leaves out only what was derived (admin1, country, geo_precision)
    /// is what a PUT of the same feature makes of it: unchanged. It kept the derived names but took "exact" for the
    /// precision left out, still marked derived: version 2 and a wrong derived_fields (hunter). A precision the row gives
    /// is its own, as in a PUT: the derived one restated changes nothing, another one is kept and no longer marked.
    /// </summary>
    [Fact]
    public async Task A_geocoded_incidents_own_point_imported_back_is_what_a_PUT_of_it_makes()
    {
        var prefix = Unique();
        var (lon, lat) = await SomewhereAsync();
        await _client.AddPlaceAsync($"Qaryat {prefix}", lon, lat, "SY", "Homs", "village");
        string[] precisions = ["", "exact", "town", "near"];
        string Named(string id) => new JsonObject
        {
            ["type"] = "Feature", ["geometry"] = null,
            ["properties"] = new JsonObject
            {
                ["title"] = "t", ["event_type"] = "battles", ["occurred_at"] = "2016-02-21",
                ["location_name"] = $"Qaryat {prefix}", ["external_id"] = id,
            },
        }.ToJsonString();
        // Twins: one of each pair is imported back, the other PUT.
        var ids = precisions.SelectMany((_, n) => new[] { $"{prefix}-i{n}", $"{prefix}-p{n}" }).ToList();
        await _client.ImportOkAsync(string.Join("\n", ids.Select(Named)), NdJson, "?source=" + prefix, inserted: 8, updated: 0, unchanged: 0, rejected: 0);
        var geocoded = await ImportedAsync($"{prefix}-i0");
        Assert.Equal("town", geocoded["properties"]!["geo_precision"]!.GetValue<string>());
        Assert.Equal(["geometry", "geo_precision", "country", "admin1"], geocoded["properties"]!["derived_fields"]!.AsArray().Select(d => d!.GetValue<string>()));

        JsonObject Pointed(string id, string precision)
        {
            var feature = JsonNode.Parse(Named(id))!.AsObject();
            feature["geometry"] = geocoded["geometry"]!.DeepClone(); // the stored coordinates, exactly
            if (precision.Length > 0) feature["properties"]!["geo_precision"] = precision;
            return feature;
        }
        await _client.ImportOkAsync(string.Join("\n", precisions.Select((p, n) => Pointed($"{prefix}-i{n}", p).ToJsonString())), NdJson, "?source=" + prefix,
            inserted: 0, updated: 2, unchanged: 2, rejected: 0);
        foreach (var (precision, n) in precisions.Select((p, n) => (p, n)))
        {
            var twin = await ImportedAsync($"{prefix}-p{n}");
            var put = await _client.PutCurrentAsync($"/collections/incidents/items/{twin["id"]}", Features.Content(Pointed($"{prefix}-p{n}", precision)));
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
            var (imported, replaced) = (await ImportedAsync($"{prefix}-i{n}"), await ImportedAsync($"{prefix}-p{n}"));
            Assert.Equal((Placed(replaced), replaced["properties"]!["version"]!.GetValue<int>()),
                (Placed(imported), imported["properties"]!["version"]!.GetValue<int>()));
        }
        var kept = (await ImportedAsync($"{prefix}-i0"))["properties"]!;
        Assert.Equal(("town", 1), (kept["geo_precision"]!.GetValue<string>(), kept["version"]!.GetValue<int>()));
        var own = (await ImportedAsync($"{prefix}-i1"))["properties"]!;
        Assert.Equal(("exact", 2), (own["geo_precision"]!.GetValue<string>(), own["version"]!.GetValue<int>()));
        Assert.Equal(["geometry", "country", "admin1"], own["derived_fields"]!.AsArray().Select(d => d!.GetValue<string>()));
    }

    /// <summary>
    /// A row that restates its incident's point with one place name edited keeps the other derivations, as a PUT of the
    /// incident as read with that change does: it dropped the place link and every mark, so a later move of the point
    /// left the old place's names, marked as the writer's own (the geocoding fixer, after the same defect in PUT).
    /// </summary>
    [Theory]
    [InlineData("admin1", "Renamed province")]
    [InlineData("location_name", "Harbour checkpoint")]
    public async Task A_row_restating_its_point_with_one_place_name_edited_keeps_the_other_derivations_as_a_PUT_does(string name, string value)
    {
        var prefix = Unique();
        var (lon, lat) = await SomewhereAsync();
        var place = await _client.AddPlaceAsync($"Westbay {prefix}", lon, lat, "NZ", "Westland", "village");
        JsonObject Row(string id)
        {
            var feature = Features.Valid(geometry: Features.Point(lon - 0.001, lat));
            feature["properties"]!["external_id"] = id;
            return feature;
        }
        await _client.ImportOkAsync($"{Row($"{prefix}-i").ToJsonString()}\n{Row($"{prefix}-p").ToJsonString()}", NdJson, "?source=" + prefix,
            inserted: 2, updated: 0, unchanged: 0, rejected: 0);
        var read = await ImportedAsync($"{prefix}-i");
        Assert.Equal(place, read["properties"]!["place_id"]!.GetValue<long>());

        // The export as read, with the one name edited: imported back for one twin, PUT for the other.
        JsonObject Edited(string id)
        {
            var feature = Row(id);
            foreach (var placeName in new[] { "location_name", "admin1", "country" })
                feature["properties"]![placeName] = read["properties"]![placeName]!.DeepClone();
            feature["properties"]![name] = value;
            return feature;
        }
        await _client.ImportOkAsync(Edited($"{prefix}-i").ToJsonString(), NdJson, "?source=" + prefix, inserted: 0, updated: 1, unchanged: 0, rejected: 0);
        var twin = await ImportedAsync($"{prefix}-p");
        var put = await _client.PutCurrentAsync($"/collections/incidents/items/{twin["id"]}", Features.Content(Edited($"{prefix}-p")));
        Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());

        var (imported, replaced) = (await ImportedAsync($"{prefix}-i"), await ImportedAsync($"{prefix}-p"));
        Assert.Equal(Placed(replaced), Placed(imported));
        var marks = imported["properties"]!["derived_fields"]!.AsArray().Select(d => d!.GetValue<string>()).ToList();
        Assert.DoesNotContain(name, marks);
        Assert.NotEmpty(marks.Intersect(new[] { "location_name", "admin1", "country" }.Where(n => n != name)));
    }

    private async Task<(long Incidents, long Versions, long Changes)> HistoryCountsAsync(string prefix)
    {
        var (incidents, versions, _, changes) = await api.Database.HistoryAsync(prefix);
        return (incidents, versions, changes);
    }

    [Fact]
    public async Task Rows_with_a_point_get_the_place_fields_they_lack_from_the_nearest_place_exactly_as_single_writes_do()
    {
        var prefix = Unique();
        var (lon, lat) = await SomewhereAsync();
        var west = await _client.AddPlaceAsync($"Westbay {prefix}", lon, lat, "NZ", "Westland", "village");
        await _client.AddPlaceAsync($"Eastbay {prefix}", lon + 0.03, lat, "CL", "Magallanes", "village"); // about 1.7 km east
        JsonObject Row(int n, double x, string? locationName = null, string? country = null)
        {
            var feature = Features.Valid(geometry: Features.Point(x, lat));
            feature["properties"]!["external_id"] = $"{prefix}-{n}";
            if (locationName is not null) feature["properties"]!["location_name"] = locationName;
            if (country is not null) feature["properties"]!["country"] = country;
            return feature;
        }
        var rows = new[]
        {
            Row(1, lon - 0.001),                          // on top of Westbay: everything from it
            Row(2, lon + 0.0125),                         // between the two: the country is left undecided
            Row(3, lon - 0.001, "Harbour checkpoint"),    // its own name kept; admin1 and country from Westbay
            Row(4, lon - 0.001, country: "CL"),           // a country given: the nearest place of that country (Eastbay)
            Row(5, lon - 0.001, "Harbour", "NZ"),         // nothing missing but admin1
        };
        var ndjson = string.Join("\n", rows.Select(r => r.ToJsonString()));

        await _client.ImportOkAsync(ndjson, NdJson, "?source=" + prefix, inserted: 5, updated: 0, unchanged: 0, rejected: 0);

        var first = (await ImportedAsync($"{prefix}-1"))["properties"]!;
        Assert.Equal(($"Westbay {prefix}", "Westland", "NZ", west), (first["location_name"]!.GetValue<string>(), first["admin1"]!.GetValue<string>(),
            first["country"]!.GetValue<string>(), first["place_id"]!.GetValue<long>()));
        Assert.Contains("country_undecided", (await ImportedAsync($"{prefix}-2"))["properties"]!["derived_fields"]!.AsArray().Select(d => d!.GetValue<string>()));
        foreach (var (row, n) in rows.Select((r, i) => (r, i + 1)))
        {
            var single = row.DeepClone().AsObject();
            single["properties"]!.AsObject().Remove("external_id");
            Assert.Equal(await SingleWriteAsync(single), Placed(await ImportedAsync($"{prefix}-{n}")));
        }

        await _client.ImportOkAsync(ndjson, NdJson, "?source=" + prefix, inserted: 0, updated: 0, unchanged: 5, rejected: 0);

        // An export restates the derived names as the file's own; it keeps what was derived, as a PUT of a GET does.
        var export = await _client.GetStringAsync($"/collections/incidents/items?f=csv&filter={Uri.EscapeDataString($"external_id LIKE '{prefix}-%'")}");
        await _client.ImportOkAsync(export, Csv, "?source=" + prefix, inserted: 0, updated: 0, unchanged: 5, rejected: 0);
        Assert.Equal(5L, (await api.Database.HistoryAsync(prefix)).Versions);
    }

    /// <summary>
    /// A place added to the gazetteer after an import (a nearer one) does not make the same file, imported
    /// again, new versions: a row that says nothing of its place but what is stored keeps what was derived
    /// for it (audit: 22 rows became version 2 after a places import). A row whose point moved is placed afresh.
    /// </summary>
    [Fact]
    public async Task A_place_added_after_an_import_changes_nothing_when_the_same_file_is_imported_again()
    {
        var prefix = Unique();
        var (lon, lat) = await SomewhereAsync();
        var far = await _client.AddPlaceAsync($"Farbay {prefix}", lon + 0.1, lat, "NZ", "Westland", "village"); // about 5 km east
        string Row(int n, double x, string? country = null)
        {
            var feature = Features.Valid($"Row {n} {prefix}", Features.Point(x, lat));
            feature["properties"]!["external_id"] = $"{prefix}-{n}";
            if (country is not null) feature["properties"]!["country"] = country;
            return feature.ToJsonString();
        }
        var ndjson = string.Join("\n", Row(1, lon), Row(2, lon, "NZ"));
        long PlaceOf(JsonObject incident) => incident["properties"]!["place_id"]!.GetValue<long>();

        await _client.ImportOkAsync(ndjson, NdJson, "?source=" + prefix, inserted: 2, updated: 0, unchanged: 0, rejected: 0);
        Assert.Equal(far, PlaceOf(await ImportedAsync($"{prefix}-1")));
        Assert.Equal(far, PlaceOf(await ImportedAsync($"{prefix}-2")));

        var near = await _client.AddPlaceAsync($"Nearbay {prefix}", lon + 0.001, lat, "NZ", "Westland", "village");
        await _client.ImportOkAsync(ndjson, NdJson, "?source=" + prefix, inserted: 0, updated: 0, unchanged: 2, rejected: 0);

        Assert.Equal(2L, (await api.Database.HistoryAsync(prefix)).Versions);
        Assert.Equal(far, PlaceOf(await ImportedAsync($"{prefix}-1")));
        var moved = string.Join("\n", Row(1, lon + 0.0005), Row(2, lon, "NZ"));
        await _client.ImportOkAsync(moved, NdJson, "?source=" + prefix, inserted: 0, updated: 1, unchanged: 1, rejected: 0);
        Assert.Equal(near, PlaceOf(await ImportedAsync($"{prefix}-1")));
        Assert.Equal(far, PlaceOf(await ImportedAsync($"{prefix}-2")));
    }

    [Fact]
    public async Task An_ACLED_row_without_coordinates_is_geocoded_by_its_location_and_country()
    {
        var prefix = Unique();
        var (lon, lat) = await SomewhereAsync();
        var syrian = await _client.AddPlaceAsync($"Tall {prefix}", lon, lat, "SY", null, "village");
        await _client.AddPlaceAsync($"Tall {prefix}", lon + 1, lat, "LB", null, "village");
        var csv = $"""
            event_id_cnty,event_date,event_type,sub_event_type,iso,admin1,location,latitude,longitude,fatalities
            {prefix}1,21 February 2016,Battles,Armed clash,760,,Tall {prefix},,,2
            {prefix}2,21 February 2016,Battles,Armed clash,760,,Tall {prefix},34.1,,2
            """;

        var report = await _client.ImportOkAsync(csv, Csv, "?source=" + prefix, inserted: 1, updated: 0, unchanged: 0, rejected: 1);

        Assert.Equal([(3L, "geometry.coordinates", "longitude,latitude")], Problems(report).Select(p => (p.Line, p.Field, p.Column)));
        Assert.Contains("a latitude but no longitude", Problems(report)[0].Reason);
        var id = await api.Database.ScalarAsync<long>("SELECT id FROM incidents WHERE external_id = @e", new { e = $"{prefix}1" });
        var feature = await _client.GetJsonAsync($"/collections/incidents/items/{id}");
        Assert.Equal(syrian, feature["properties"]!["place_id"]!.GetValue<long>());
        Assert.Equal([lon, lat], feature["geometry"]!["coordinates"]!.AsArray().Select(c => c!.GetValue<double>()));
    }

    [Fact]
    public async Task An_ACLED_file_without_coordinate_columns_is_geocoded_by_location()
    {
        var prefix = Unique();
        var (lon, lat) = await SomewhereAsync();
        var place = await _client.AddPlaceAsync($"Suq {prefix}", lon, lat, "YE", null, "village");

        await _client.ImportOkAsync($"event_id_cnty,event_date,event_type,sub_event_type,iso,location\n{prefix}1,2016-02-21,Battles,Armed clash,887,Suq {prefix}\n",
            Csv, "?source=" + prefix, inserted: 1, updated: 0, unchanged: 0, rejected: 0);

        var id = await api.Database.ScalarAsync<long>("SELECT id FROM incidents WHERE external_id = @e", new { e = $"{prefix}1" });
        Assert.Equal(place, (await _client.GetJsonAsync($"/collections/incidents/items/{id}"))["properties"]!["place_id"]!.GetValue<long>());
    }

    [Fact]
    public async Task A_row_with_a_bad_value_and_a_place_name_is_refused_for_what_is_wrong_and_nothing_else()
    {
        var prefix = Unique();
        var (lon, lat) = await SomewhereAsync();
        await _client.AddPlaceAsync($"Dayr {prefix}", lon, lat, "SY", null, "village");
        await _client.AddPlaceAsync($"Dayr {prefix}", lon + 1, lat, "SY", null, "village");
        var csv = $"""
            external_id,title,event_type,occurred_at,location_name,country,admin1,sources
            {prefix}-1,Raid,battles,2016-02-21,Qaryat {prefix}x,SY,,not json
            {prefix}-2,Raid,skirmish,2016-02-21,Nowhere {prefix},SY,,
            {prefix}-3,Raid,battles,2016-02-21,Dayr {prefix},SY,Idlib,
            {prefix}-4,Raid,battles,2016-02-21,   ,SY,,
            """;

        var report = await _client.ImportOkAsync(csv, Csv, "?source=" + prefix, inserted: 0, updated: 0, unchanged: 0, rejected: 4);

        var problems = Problems(report);
        // A bad value beside a name that resolves nowhere: both, and no "geometry is required".
        Assert.Equal(["properties.location_name", "properties.sources"], problems.Where(p => p.Line == 2).Select(p => p.Field).Order());
        Assert.Equal(["properties.event_type", "properties.location_name"], problems.Where(p => p.Line == 3).Select(p => p.Field).Order());
        // An admin1 that decides nothing is named; a report lists no candidates, so it does not point at them.
        var ambiguous = problems.Single(p => p.Line == 4).Reason;
        // Only what was not given is asked for: country and admin1 were both given, so coordinates alone decide.
        Assert.Contains("and country SY and admin1 'Idlib' do not tell them apart; send coordinates.", ambiguous);
        Assert.DoesNotContain("see candidates", string.Join(" ", problems.Select(p => p.Reason)));
        // A blank name is no name: the row needs coordinates or a name.
        Assert.Equal([("geometry", "is required (or a properties.location_name for the server to geocode)")],
            problems.Where(p => p.Line == 5).Select(p => (p.Field, p.Reason)));
    }

    /// <summary>
    /// A row whose admin1 no place of its name lies in is a rejected row, with its line and the places of
    /// that name and their admin1, by the rule of single writes (it used to take the place, keeping the
    /// contradicting admin1 beside its point); the rest of the file is imported.
    /// </summary>
    [Fact]
    public async Task A_row_whose_admin1_contradicts_every_place_of_its_name_is_rejected_naming_them()
    {
        var prefix = Unique();
        var (lon, lat) = await SomewhereAsync();
        var village = await _client.AddPlaceAsync($"Kafr {prefix}", lon, lat, "SY", "Homs", "village");
        var csv = $"""
            external_id,title,event_type,occurred_at,location_name,country,admin1
            {prefix}-1,Shelling,battles,2016-02-21,Kafr {prefix},SY,Homs
            {prefix}-2,Shelling,battles,2016-02-21,Kafr {prefix},SY,Idlib
            {prefix}-3,Shelling,battles,2016-02-21,Kafr {prefix},,Idlib
            """;

        var report = await _client.ImportOkAsync(csv, Csv, "?source=" + prefix, inserted: 1, updated: 0, unchanged: 0, rejected: 2);

        var problems = Problems(report);
        Assert.Equal([(3L, "properties.location_name"), (4L, "properties.location_name")], problems.Select(p => (p.Line, p.Field)));
        Assert.Contains($"no place named 'Kafr {prefix}' in SY lies in admin1 'Idlib'", problems[0].Reason);
        Assert.Contains($"no place named 'Kafr {prefix}' lies in admin1 'Idlib'", problems[1].Reason);
        Assert.All(problems, p => Assert.Contains($"Kafr {prefix} (SY, Homs)", p.Reason));
        Assert.Equal(village, (await ImportedAsync($"{prefix}-1"))["properties"]!["place_id"]!.GetValue<long>());
    }

    [Theory]
    [InlineData("external_id,title,event_type,occurred_at", "location_name")]
    [InlineData("external_id,title,event_type,occurred_at,location_name,lat", "lat column without a lon")]
    public async Task A_CSV_needs_coordinates_or_a_location_name_column(string header, string reason)
    {
        var response = await _client.PostAsync(Url + "?source=" + Unique(),
            new StringContent(header + "\nx-1,T,battles,2016-02-21,Homs,34\n", new System.Text.UTF8Encoding(false), Csv));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "header");
        Assert.Contains(reason, problem["detail"]!.GetValue<string>());
    }
}
