using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Api.Imports;
using IncidentMap.Api.Security;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Trust;
using Microsoft.Extensions.DependencyInjection;
using static IncidentMap.Tests.Imports.ImportHelpers;

namespace IncidentMap.Tests.Imports;

[Collection(ImportsCollection.Name)]
public sealed class ImportTests(ImportsFixture api)
{
    private const string Csv = "text/csv";

    private static string Utc(JsonNode? time) =>
        DateTimeOffset.Parse(time!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture).UtcDateTime.ToString("s", System.Globalization.CultureInfo.InvariantCulture);

    private async Task<JsonObject> FeatureAsync(string externalId)
    {
        var id = await api.Database.ScalarAsync<long>("SELECT id FROM incidents WHERE external_id = @externalId AND deleted_at IS NULL", new { externalId });
        return await api.CreateClient().GetJsonAsync($"/collections/incidents/items/{id}");
    }

    [Fact]
    public async Task The_ACLED_sample_imports_with_counts_and_every_rejected_row_named_by_line_field_and_column()
    {
        var prefix = Unique();

        var report = await api.CreateClient().ImportOkAsync(AcledSample(prefix), Csv, "", inserted: 25, updated: 0, unchanged: 0, rejected: 5);

        Assert.Equal("acled", report["source"]!.GetValue<string>());
        Assert.Equal(30, report["rows"]!.GetValue<long>());
        // Line 8 holds a quoted note with a line break, so rows after it start one line further down.
        Assert.Equal(
        [
            (28L, "properties.occurred_at", "event_date", "'31 Februrary 2016' is not an ACLED date (2016-02-21 or 21 February 2016)"),
            (29L, "properties.event_type", "event_type", "'Skirmish' is not an ACLED event type (Battles, Explosions/Remote violence, Violence against civilians, Protests, Riots, Strategic developments)"),
            (30L, "geometry.coordinates", "longitude,latitude", "position 0: latitude 136.34 is outside -90..90 (GeoJSON order is lon,lat)"),
            (31L, "properties.fatalities_min", "fatalities", "must not be negative"),
            (31L, "properties.fatalities_max", "fatalities", "must not be negative"),
            (32L, "properties.external_id", "event_id_cnty", "is required in an import: it is how a later import of the same file finds the incident again (incidents written one by one may have none; give each row a key of your own, such as its id column)"),
        ], Problems(report));
        Assert.Equal(25, (await api.Database.HistoryAsync(prefix)).Incidents);
    }

    [Fact]
    public async Task ACLED_columns_map_onto_the_incident_model()
    {
        var prefix = Unique();
        await api.CreateClient().ImportOkAsync(AcledSample(prefix), Csv, "", 25, 0, 0, 5);

        var homs = (await FeatureAsync($"{prefix}-SYR10001"))["properties"]!;
        Assert.Equal("Suicide bomb in Homs - Az Zahra", homs["title"]!.GetValue<string>());
        Assert.Equal("explosions_remote_violence", homs["event_type"]!.GetValue<string>());
        Assert.Equal("2016-02-21T00:00:00", Utc(homs["occurred_at"]));
        Assert.Equal("day", homs["time_precision"]!.GetValue<string>());
        Assert.Equal("town", homs["geo_precision"]!.GetValue<string>());
        Assert.Equal("SY", homs["country"]!.GetValue<string>());
        Assert.Equal("Homs", homs["admin1"]!.GetValue<string>());
        Assert.Equal("Homs", homs["admin2"]!.GetValue<string>());
        Assert.Equal("Homs", homs["admin3"]!.GetValue<string>());
        Assert.Equal("Homs - Az Zahra", homs["location_name"]!.GetValue<string>());
        // All three levels of division, as ACLED names them (admin3 was dropped before).
        var zaynab = (await FeatureAsync($"{prefix}-SYR10002"))["properties"]!;
        Assert.Equal(("Rural Damascus", "Rural Damascus", "Babella"),
            (zaynab["admin1"]!.GetValue<string>(), zaynab["admin2"]!.GetValue<string>(), zaynab["admin3"]!.GetValue<string>()));
        Assert.Equal(57, homs["fatalities_min"]!.GetValue<int>());
        Assert.Equal(57, homs["fatalities_max"]!.GetValue<int>());
        Assert.Equal(["Islamic State (Syria)", "Civilians (Syria)"], homs["actors"]!.AsArray().Select(a => a!.GetValue<string>()));
        Assert.Equal(["SANA", "Syrian Observatory for Human Rights"], homs["sources"]!.AsArray().Select(s => s!["publisher"]!.GetValue<string>()));
        Assert.StartsWith("Two car bombs exploded", homs["summary"]!.GetValue<string>());

        // ACLED precision 2: the ISO week of 14 February 2016 (a Sunday) starts on Monday the 8th; 3: the month.
        var week = (await FeatureAsync($"{prefix}-SYR10004"))["properties"]!;
        Assert.Equal(("2016-02-08T00:00:00", "week", "near"), (Utc(week["occurred_at"]), week["time_precision"]!.GetValue<string>(), week["geo_precision"]!.GetValue<string>()));
        Assert.Equal(["Military Forces of Syria (2000-)", "Hezbollah", "Jabhat al Nusra", "Ahrar al Sham"], week["actors"]!.AsArray().Select(a => a!.GetValue<string>()));
        var month = (await FeatureAsync($"{prefix}-SYR10005"))["properties"]!;
        Assert.Equal(("2016-01-01T00:00:00", "month", "region"), (Utc(month["occurred_at"]), month["time_precision"]!.GetValue<string>(), month["geo_precision"]!.GetValue<string>()));

        Assert.Equal("CI", (await FeatureAsync($"{prefix}-CIV13001"))["properties"]!["country"]!.GetValue<string>()); // no iso: by name
        Assert.Equal("CD", (await FeatureAsync($"{prefix}-COD12001"))["properties"]!["country"]!.GetValue<string>());
        // Kosovo has no ISO code (ACLED's iso is 0): by name it is XK, as GeoNames and the gazetteer have it.
        var kosovo = (await FeatureAsync($"{prefix}-XKX11001"))["properties"]!;
        Assert.Equal(("XK", 0), (kosovo["country"]!.GetValue<string>(), kosovo["derived_fields"]!.AsArray().Count));
        Assert.Equal(["crowd size=thousands"], (await FeatureAsync($"{prefix}-XKX11001"))["properties"]!["tags"]!.AsArray().Select(t => t!.GetValue<string>()));
        var sadr = (await FeatureAsync($"{prefix}-IRQ20001"))["properties"]!;
        Assert.Equal("Two suicide bombers on motorbikes attacked a market in Sadr City, Baghdad.\nThe toll rose over the following days.", sadr["summary"]!.GetValue<string>());
    }

    [Fact]
    public async Task ACLED_admin3_is_kept_filtered_exported_and_a_changed_one_is_one_new_version()
    {
        var prefix = Unique();
        var client = api.CreateClient();
        await client.ImportOkAsync(AcledSample(prefix), Csv, "", 25, 0, 0, 5);

        // admin3= finds exactly the sample's incidents in Babella (of this import: the prefix is in external_id).
        var babella = await client.GetJsonAsync($"/collections/incidents/items?admin3=Babella&limit=100");
        var ids = babella["features"]!.AsArray().Select(f => f!["properties"]!["external_id"]!.GetValue<string>()).Where(e => e.StartsWith(prefix)).ToList();
        Assert.Equal([$"{prefix}-SYR10002"], ids);
        var cql = await client.GetJsonAsync($"/collections/incidents/items?filter={Uri.EscapeDataString($"admin3 = 'Babella' AND external_id LIKE '{prefix}%'")}");
        Assert.Equal(1, cql["numberReturned"]!.GetValue<int>());

        // Our own CSV export carries the column, and imports back unchanged.
        var csv = await client.GetStringAsync($"/collections/incidents/items?external_id={prefix}-SYR10002&f=csv");
        Assert.Contains("admin3", csv.Split('\n')[0].Split(','));
        Assert.Contains(",Babella,", csv);

        // A re-import whose admin3 changed is that incident's one new version, naming admin3.
        var revised = AcledSample(prefix).Replace("Rural Damascus,Rural Damascus,Babella,", "Rural Damascus,Rural Damascus,Markaz Rif Dimashq,");
        await client.ImportOkAsync(revised, Csv, "", inserted: 0, updated: 1, unchanged: 24, rejected: 5);
        var feature = await FeatureAsync($"{prefix}-SYR10002");
        Assert.Equal(("Markaz Rif Dimashq", 2), (feature["properties"]!["admin3"]!.GetValue<string>(), feature["properties"]!["version"]!.GetValue<int>()));
        var history = await client.GetJsonAsync($"/collections/incidents/items/{feature["id"]}/history");
        Assert.Equal(["admin3"], history["revisions"]!.AsArray()[^1]!["changed_fields"]!.AsArray().Select(f => f!.GetValue<string>()));
    }

    [Fact]
    public async Task Importing_the_same_file_again_changes_nothing_no_new_versions_revisions_or_changes()
    {
        var prefix = Unique();
        var client = api.CreateClient();
        await client.ImportOkAsync(AcledSample(prefix), Csv, "", 25, 0, 0, 5);
        var before = await api.Database.HistoryAsync(prefix);
        Assert.Equal((25L, 25L, 25L, 25L), before);

        await client.ImportOkAsync(AcledSample(prefix), Csv, "", inserted: 0, updated: 0, unchanged: 25, rejected: 5);

        Assert.Equal(before, await api.Database.HistoryAsync(prefix));
    }

    [Fact]
    public async Task A_changed_row_is_the_one_update_recorded_in_history_under_the_key_name()
    {
        var prefix = Unique();
        var client = api.CreateClient();
        await client.ImportOkAsync(AcledSample(prefix), Csv, "", 25, 0, 0, 5);
        var revised = AcledSample(prefix).Replace("at least 57 people were killed.,57,", "at least 60 people were killed.,60,");

        await client.ImportOkAsync(revised, Csv, "", inserted: 0, updated: 1, unchanged: 24, rejected: 5);

        Assert.Equal((25L, 26L, 26L, 26L), await api.Database.HistoryAsync(prefix));
        var feature = await FeatureAsync($"{prefix}-SYR10001");
        Assert.Equal(2, feature["properties"]!["version"]!.GetValue<int>());
        Assert.Equal(60, feature["properties"]!["fatalities_max"]!.GetValue<int>());
        var history = await client.GetJsonAsync($"/collections/incidents/items/{feature["id"]}/history");
        var last = history["revisions"]!.AsArray()[^1]!;
        Assert.Equal(api.KeyName, last["changed_by"]!.GetValue<string>());
        Assert.Equal(["fatalities_max", "fatalities_min", "summary"], last["changed_fields"]!.AsArray().Select(f => f!.GetValue<string>()).Order());
    }

    [Fact]
    public async Task A_GeoJSON_FeatureCollection_imports_skipping_other_members_and_naming_bad_features_by_line()
    {
        var prefix = Unique();
        var body = $$"""
            {"type": "FeatureCollection", "name": "test", "bbox": [35, 33, 37, 35],
             "features": [
              {"type": "Feature", "geometry": {"type": "Point", "coordinates": [36.72, 34.72]},
               "properties": {"title": "One", "event_type": "battles", "occurred_at": "2016-02-21", "external_id": "{{prefix}}-1"} },
              {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[36, 34], [37, 34], [37, 35], [36, 35], [36, 34]]]},
               "properties": {"title": "Two", "event_type": "riots", "occurred_at": "2016-02-22T10:00:00Z", "external_id": "{{prefix}}-2"} },
              {"type": "Feature", "geometry": {"type": "Point", "coordinates": [36.72, 34.72]},
               "properties": {"title": "Three", "event_type": "picnic", "occurred_at": "2016-02-21", "external_id": "{{prefix}}-3"} },
              {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
               "properties": {"title": "Bow tie", "event_type": "riots", "occurred_at": "2016-02-22", "external_id": "{{prefix}}-4"} }
             ],
             "crs": null}
            """;

        var report = await api.CreateClient().ImportOkAsync(body, "application/geo+json", "", inserted: 2, updated: 0, unchanged: 0, rejected: 2);

        Assert.Equal("import", report["source"]!.GetValue<string>());
        var problems = Problems(report);
        Assert.Equal((7L, "properties.event_type"), (problems[0].Line, problems[0].Field));
        Assert.Equal((9L, "geometry"), (problems[1].Line, problems[1].Field));
        Assert.StartsWith("is not valid: Self-intersection", problems[1].Reason);
        Assert.Equal("Polygon", (await FeatureAsync($"{prefix}-2"))["geometry"]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Newline_delimited_GeoJSON_and_GeoJSON_sequences_import_line_by_line()
    {
        var prefix = Unique();
        string Line(int n, string eventType = "protests") =>
            $$"""{"type":"Feature","geometry":{"type":"Point","coordinates":[44.36,33.31]},"properties":{"title":"Protest {{n}}","event_type":"{{eventType}}","occurred_at":"2016-03-0{{n}}","external_id":"{{prefix}}-{{n}}"} }""";
        var ndjson = $"{Line(1)}\n\n{Line(2)}\r\n{{\"type\": \"Feature\", oops\n{Line(3, "parade")}\n{Line(4)}\n[1, 2]";

        var report = await api.CreateClient().ImportOkAsync(ndjson, "application/x-ndjson", "", inserted: 3, updated: 0, unchanged: 0, rejected: 3);

        Assert.Equal([(4L, "feature"), (5L, "properties.event_type"), (7L, "feature")], Problems(report).Select(p => (p.Line, p.Field)));
        // RFC 8142 sequences put RS before each record; the same features are now all unchanged.
        var sequence = string.Concat(new[] { Line(1), Line(2), Line(4) }.Select(l => "\u001e" + l + "\n"));
        await api.CreateClient().ImportOkAsync(sequence, "application/geo+json-seq", "", 0, 0, 3, 0);
    }

    /// <summary>
    /// RFC 8142 (and RFC 7464) split a sequence at RS, so a record may span lines, as GDAL and jq write pretty-printed
    /// ones: each line of them was read as a record of its own, every one "not valid JSON".
    /// </summary>
    [Fact]
    public async Task A_GeoJSON_sequence_of_records_over_several_lines_imports_record_by_record()
    {
        var prefix = Unique();
        string Record(int n, string eventType = "protests") => $$"""
            {
              "type": "Feature",
              "geometry": {"type": "Point", "coordinates": [44.36, 33.31]},
              "properties": {
                "title": "Protest {{n}}", "event_type": "{{eventType}}",
                "occurred_at": "2016-03-0{{n}}", "external_id": "{{prefix}}-{{n}}"
              }
            }
            """;
        // Records of 8 lines; the second starts on line 9, the fourth (broken JSON) on line 26 after a blank line.
        var sequence = $"\u001e{Record(1)}\n\u001e{Record(2, "parade")}\n\u001e{Record(3)}\n\n\u001e{{\"type\": \"Feature\",\n oops}}\n\u001e{Record(4)}\n";

        var report = await api.CreateClient().ImportOkAsync(sequence, "application/geo+json-seq", "", inserted: 3, updated: 0, unchanged: 0, rejected: 2);

        Assert.Equal([(9L, "properties.event_type"), (26L, "feature")], Problems(report).Select(p => (p.Line, p.Field)));
        Assert.Equal("Protest 4", (await FeatureAsync($"{prefix}-4"))["properties"]!["title"]!.GetValue<string>());
    }

    [Fact]
    public async Task Parsers_stream_across_every_buffer_boundary()
    {
        var prefix = Unique();
        var features = Enumerable.Range(1, 40).Select(n => $$"""
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [{{30 + n / 10.0}}, 30.5]},
             "properties": {"title": "Trickled \"{{n}}\" é", "event_type": "riots", "occurred_at": "2016-01-01", "external_id": "{{prefix}}-j{{n}}"} }
            """);
        var json = Encoding.UTF8.GetBytes($$"""{"features": [{{string.Join(",", features)}}], "type": "FeatureCollection"}""");
        var csv = Encoding.UTF8.GetBytes("\uFEFFexternal_id,title,summary,event_type,occurred_at,lon,lat\r\n" + string.Concat(Enumerable.Range(1, 40).Select(n =>
            $"{prefix}-c{n},\"Quoted, \"\"{n}\"\"\",\"Two\r\nlines, é\",riots,2016-01-01,{30 + n / 10.0},30.5\r\n")));
        var importer = api.Services.GetRequiredService<Importer>();

        var fromJson = await importer.RunAsync(new TrickleStream(json, 1), new ImportOptions(ImportFormat.GeoJson, prefix, "tests"), new ImportTally(), default);
        var fromCsv = await importer.RunAsync(new TrickleStream(csv, 2), new ImportOptions(ImportFormat.Csv, prefix, "tests"), new ImportTally(), default);

        Assert.Equal((40L, 0L, null), (fromJson.Inserted, fromJson.Rejected, fromJson.Error));
        Assert.Equal((40L, 0L, null), (fromCsv.Inserted, fromCsv.Rejected, fromCsv.Error));
        Assert.Equal("Trickled \"7\" é", (await FeatureAsync($"{prefix}-j7"))["properties"]!["title"]!.GetValue<string>());
        var row = (await FeatureAsync($"{prefix}-c7"))["properties"]!;
        Assert.Equal(("Quoted, \"7\"", "Two\r\nlines, é"), (row["title"]!.GetValue<string>(), row["summary"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Our_CSV_takes_quoted_fields_lists_sources_wkt_and_names_the_line_of_each_rejected_row()
    {
        var prefix = Unique();
        var csv = $$""""
            external_id,title,summary,event_type,occurred_at,fatalities_min,fatalities_max,actors,tags,sources,lon,lat,wkt,version
            {{prefix}}-1,"Shelling, then a ""ceasefire""","First line
            second line",battles,2016-02-21T07:30:00Z,3,5,Army; Rebels,a;b,"[{""publisher"":""SANA"",""url"":""https://sana.sy/x""}]",36.7,34.7,,9
            {{prefix}}-2,Bad toll,,battles,2016-02-21,9,5,,,,36.7,34.7,,
            {{prefix}}-3,Line area,,riots,2016-02,,,,,,,,"LINESTRING (36 34, 36.5 34.5)",
            {{prefix}}-4,Not a number,,riots,2016-02-21,many,,,,,36.7,34.7,,
            """";

        var report = await api.CreateClient().ImportOkAsync(csv, Csv, "?source=" + prefix, inserted: 2, updated: 0, unchanged: 0, rejected: 2);

        Assert.Equal([(4L, "properties.fatalities_min", "fatalities_min"), (6L, "properties.fatalities_min", "fatalities_min")],
            Problems(report).Select(p => (p.Line, p.Field, p.Column)));
        var first = (await FeatureAsync($"{prefix}-1"))["properties"]!;
        Assert.Equal("Shelling, then a \"ceasefire\"", first["title"]!.GetValue<string>());
        Assert.Equal("First line\nsecond line", first["summary"]!.GetValue<string>());
        Assert.Equal(["Army", "Rebels"], first["actors"]!.AsArray().Select(a => a!.GetValue<string>()));
        Assert.Equal("https://sana.sy/x", first["sources"]![0]!["url"]!.GetValue<string>());
        Assert.Equal(1, first["version"]!.GetValue<int>()); // a version column is the server's and ignored
        var line = await FeatureAsync($"{prefix}-3");
        Assert.Equal(("LineString", "month"), (line["geometry"]!["type"]!.GetValue<string>(), line["properties"]!["time_precision"]!.GetValue<string>()));
    }

    [Fact]
    public async Task A_CSV_export_imports_back_unchanged()
    {
        var prefix = Unique();
        var client = api.CreateClient();
        await client.ImportOkAsync(AcledSample(prefix), Csv, "?source=" + prefix, 25, 0, 0, 5);

        var export = await client.GetStringAsync($"/collections/incidents/items?f=csv&filter={Uri.EscapeDataString($"external_id LIKE '{prefix}-%'")}");

        await client.ImportOkAsync(export, Csv, "?source=" + prefix, inserted: 0, updated: 0, unchanged: 25, rejected: 0);
    }

    [Theory]
    [InlineData("ndjson", "application/x-ndjson")]
    [InlineData("geojsonseq", "application/geo+json-seq")]
    [InlineData("json", "application/geo+json")]
    public async Task A_GeoJSON_export_imports_back_unchanged(string format, string mediaType)
    {
        // Exported features carry only the members a written Feature may have (the import refuses others).
        var prefix = Unique();
        var client = api.CreateClient();
        await client.ImportOkAsync(AcledSample(prefix), Csv, "?source=" + prefix, 25, 0, 0, 5);

        var export = await client.GetStringAsync(
            $"/collections/incidents/items?f={format}&limit=100&filter={Uri.EscapeDataString($"external_id LIKE '{prefix}-%'")}");

        await client.ImportOkAsync(export, mediaType, "?source=" + prefix, inserted: 0, updated: 0, unchanged: 25, rejected: 0);
    }

    [Fact]
    public async Task A_CSV_export_of_fine_coordinates_text_with_spaces_blank_text_and_a_clockwise_hole_imports_back_unchanged()
    {
        var prefix = Unique();
        var client = api.CreateClient();
        string Row(string key, string geometry, string properties) =>
            $$"""{"type":"Feature","geometry":{{geometry}},"properties":{"external_id":"{{prefix}}-{{key}}","title":"T","event_type":"riots","occurred_at":"2016-01-01T00:00:00Z",""" + properties + "}}";
        var rows = string.Join("\n",
            // More decimals than a map page's 7: an export is a copy, coordinates as stored.
            Row("a", """{"type":"Point","coordinates":[36.123456789012,34.98765432101]}""",
                """ "summary":"Ends in a space ","claimed_by":" Group X","location_name":"Camp 3 ","admin2":"" """),
            // Shell counter-clockwise, hole clockwise, as sent; RFC 7946 would turn the hole around.
            Row("b", """{"type":"Polygon","coordinates":[[[36,34],[37,34],[37,35],[36,35],[36,34]],[[36.2,34.2],[36.2,34.8],[36.8,34.8],[36.8,34.2],[36.2,34.2]]]}""",
                """ "summary":"   " """));
        await client.ImportOkAsync(rows, "application/x-ndjson", "?source=" + prefix, inserted: 2, updated: 0, unchanged: 0, rejected: 0);
        var a = (await FeatureAsync($"{prefix}-a"))["properties"]!;
        // Prose as written; single-line text trimmed, as every write trims it.
        Assert.Equal(("Ends in a space ", "Group X", "Camp 3"), (a["summary"]!.GetValue<string>(), a["claimed_by"]!.GetValue<string>(), a["location_name"]!.GetValue<string>()));
        Assert.Null(a["admin2"]);                                        // blank text is none, whichever way it came
        Assert.Null((await FeatureAsync($"{prefix}-b"))["properties"]!["summary"]);

        var export = await client.GetStringAsync($"/collections/incidents/items?f=csv&filter={Uri.EscapeDataString($"external_id LIKE '{prefix}-%'")}");

        await client.ImportOkAsync(export, Csv, "?source=" + prefix, inserted: 0, updated: 0, unchanged: 2, rejected: 0);
    }

    [Fact]
    public async Task List_items_holding_the_separator_or_a_backslash_survive_a_CSV_export_and_import()
    {
        var prefix = Unique();
        var client = api.CreateClient();
        var feature = Features.Valid("Lists");
        feature["properties"]!["external_id"] = $"{prefix}-1";
        feature["properties"]!["actors"] = new JsonArray("Army; 4th Division", @"C:\path\;x", "Plain", @"ends\");
        feature["properties"]!["tags"] = new JsonArray("a;b", "c");
        await client.CreateAsync(feature);

        var export = await client.GetStringAsync($"/collections/incidents/items?f=csv&filter={Uri.EscapeDataString($"external_id = '{prefix}-1'")}");
        Assert.Contains(@",Army\; 4th Division;C:\\path\\\;x;Plain;ends\\,", export);
        Assert.Contains(@",a\;b;c,", export);

        // Imported under a new key: the lists must come back item for item.
        var copy = export.Replace($"{prefix}-1", $"{prefix}-2");
        await client.ImportOkAsync(copy, Csv, "?source=" + prefix, inserted: 1, updated: 0, unchanged: 0, rejected: 0);
        var imported = (await FeatureAsync($"{prefix}-2"))["properties"]!;
        Assert.Equal(["Army; 4th Division", @"C:\path\;x", "Plain", @"ends\"], imported["actors"]!.AsArray().Select(a => a!.GetValue<string>()));
        Assert.Equal(["a;b", "c"], imported["tags"]!.AsArray().Select(a => a!.GetValue<string>()));

        // A backslash before anything but ';' or a backslash is kept: hand-written files need no escaping.
        var hand = $"external_id,title,event_type,occurred_at,actors,lon,lat\n{prefix}-3,Hand,riots,2016-01-01,C:\\temp;Other,1,1\n";
        await client.ImportOkAsync(hand, Csv, "?source=" + prefix, inserted: 1, updated: 0, unchanged: 0, rejected: 0);
        Assert.Equal([@"C:\temp", "Other"], (await FeatureAsync($"{prefix}-3"))["properties"]!["actors"]!.AsArray().Select(a => a!.GetValue<string>()));
    }

    [Fact]
    public async Task A_CSV_export_defuses_text_a_spreadsheet_would_run_and_imports_back_unchanged()
    {
        var prefix = Unique();
        var client = api.CreateClient();
        var csv = $"external_id,title,summary,event_type,occurred_at,location_name,admin1,tags,lon,lat\n" +
                  $"{prefix}-1,\"=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",-2 killed,riots,2016-01-01,'Quoted,+cmd|calc,@SUM(1);x,36.5,34.5\n";
        await client.ImportOkAsync(csv, Csv, "?source=" + prefix, inserted: 1, updated: 0, unchanged: 0, rejected: 0);
        var stored = (await FeatureAsync($"{prefix}-1"))["properties"]!;
        Assert.Equal(("=HYPERLINK(\"http://evil.example\",\"x\")", "-2 killed", "Quoted"),
            (stored["title"]!.GetValue<string>(), stored["summary"]!.GetValue<string>(), stored["location_name"]!.GetValue<string>()));

        var export = await client.GetStringAsync($"/collections/incidents/items?f=csv&filter={Uri.EscapeDataString($"external_id = '{prefix}-1'")}");

        // Every cell that a spreadsheet would take for a formula starts with an apostrophe, inside its quotes if any.
        Assert.Contains(",\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",", export);
        Assert.Contains(",'-2 killed,", export);
        Assert.Contains(",Quoted,", export);
        Assert.Contains(",'+cmd|calc,", export);
        Assert.Contains(",'@SUM(1);x,", export);
        await client.ImportOkAsync(export, Csv, "?source=" + prefix, inserted: 0, updated: 0, unchanged: 1, rejected: 0);

        var stats = await client.GetStringAsync($"/collections/incidents/stats?f=csv&group_by=admin1&interval=month&datetime=2016-01&filter={Uri.EscapeDataString($"external_id = '{prefix}-1'")}");
        Assert.Contains(",'+cmd|calc,1,", stats);
    }

    [Fact]
    public async Task A_repeated_external_id_is_rejected_naming_the_line_of_its_first_row_and_a_second_import_changes_nothing()
    {
        var prefix = Unique();
        var csv = $"external_id,title,event_type,occurred_at,lon,lat\n{prefix}-1,First,riots,2016-01-01,1,1\n{prefix}-2,Other,riots,2016-01-01,1,1\n{prefix}-1,Second,riots,2016-01-01,1,1\n";
        var client = api.CreateClient();

        var report = await client.ImportOkAsync(csv, Csv, "", inserted: 2, updated: 0, unchanged: 0, rejected: 1);

        var problem = Assert.Single(Problems(report));
        Assert.Equal((4L, "properties.external_id", "external_id"), (problem.Line, problem.Field, problem.Column));
        Assert.Contains($"'{prefix}-1' is on line 2 of this file already", problem.Reason);
        Assert.Equal("First", (await FeatureAsync($"{prefix}-1"))["properties"]!["title"]!.GetValue<string>());

        await client.ImportOkAsync(csv, Csv, "", inserted: 0, updated: 0, unchanged: 2, rejected: 1);
        Assert.Equal((2L, 2L), (await api.Database.HistoryAsync(prefix)) is var h ? (h.Incidents, h.Versions) : default);
    }

    [Fact]
    public async Task A_row_the_database_refuses_does_not_claim_its_external_id_and_the_column_of_a_repeat_is_named_in_ACLED_files_too()
    {
        // The bow tie passes the importer's checks and is refused by PostGIS in the batch; the later
        // valid row of the same key is then the first of the file, and the third one its repeat.
        var prefix = Unique();
        var csv = $"external_id,title,event_type,occurred_at,wkt\n" +
                  $"{prefix}-1,Bow tie,riots,2016-01-01,\"POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))\"\n" +
                  $"{prefix}-1,Point,riots,2016-01-01,POINT (1 1)\n" +
                  $"{prefix}-1,Again,riots,2016-01-01,POINT (2 2)\n";
        var client = api.CreateClient();

        var report = await client.ImportOkAsync(csv, Csv, "?source=" + prefix, inserted: 1, updated: 0, unchanged: 0, rejected: 2);

        Assert.Equal([(2L, "geometry"), (4L, "properties.external_id")], Problems(report).Select(p => (p.Line, p.Field)));
        Assert.Contains("is on line 3 of this file already", Problems(report)[1].Reason);
        Assert.Equal("Point", (await FeatureAsync($"{prefix}-1"))["properties"]!["title"]!.GetValue<string>());

        // ACLED's key column is event_id_cnty.
        var acled = "event_id_cnty,event_date,year,time_precision,event_type,sub_event_type,actor1,country,iso,location,latitude,longitude,geo_precision,source,notes,fatalities\n" +
                    $"{prefix}A1,21 February 2016,2016,1,Explosions/Remote violence,Suicide bomb,Unknown,Syria,760,Homs,34.73,36.71,1,SANA,First,57\n" +
                    $"{prefix}A1,21 February 2016,2016,1,Explosions/Remote violence,Suicide bomb,Unknown,Syria,760,Homs,34.73,36.71,1,SANA,Second,57\n";
        var repeated = Assert.Single(Problems(await client.ImportOkAsync(acled, Csv, "?source=" + prefix, inserted: 1, updated: 0, unchanged: 0, rejected: 1)));
        Assert.Equal((3L, "properties.external_id", "event_id_cnty"), (repeated.Line, repeated.Field, repeated.Column));
    }

    [Fact]
    public async Task A_repeated_ACLED_event_id_says_the_file_looks_like_the_monadic_export_and_to_download_the_dyadic_one()
    {
        // ACLED's monadic export: one row per actor of each event, the event's id on consecutive rows
        // that differ only in the actor columns.
        var prefix = Unique();
        var acled = "event_id_cnty,event_date,time_precision,event_type,sub_event_type,actor1,actor2,iso,location,latitude,longitude,geo_precision,fatalities\n" +
                    $"{prefix}A1,2016-02-21,1,Battles,Armed clash,Military Forces of Syria,,760,Homs,34.73,36.71,1,3\n" +
                    $"{prefix}A1,2016-02-21,1,Battles,Armed clash,Rebel Group {prefix},,760,Homs,34.73,36.71,1,3\n" +
                    $"{prefix}A2,2016-02-22,1,Riots,Mob violence,Rioters (Syria),,760,Homs,34.73,36.71,1,0\n";
        var client = api.CreateClient();

        var report = await client.ImportOkAsync(acled, Csv, "?source=" + prefix, inserted: 2, updated: 0, unchanged: 0, rejected: 1);

        var repeated = Assert.Single(Problems(report));
        Assert.Equal((3L, "properties.external_id", "event_id_cnty"), (repeated.Line, repeated.Field, repeated.Column));
        Assert.StartsWith($"'{prefix}A1' is on line 2 of this file already", repeated.Reason);
        Assert.Contains("monadic export (one row per actor of each event)", repeated.Reason);
        Assert.Contains("download the dyadic export (one row per event", repeated.Reason);

        // Our own CSV's repeats are no ACLED export's.
        var ours = $"external_id,title,event_type,occurred_at,lon,lat\n{prefix}-1,First,riots,2016-01-01,1,1\n{prefix}-1,Second,riots,2016-01-01,1,1\n";
        var own = Assert.Single(Problems(await client.ImportOkAsync(ours, Csv, "?source=" + prefix, inserted: 1, updated: 0, unchanged: 0, rejected: 1)));
        Assert.DoesNotContain("monadic", own.Reason);
    }

    [Fact]
    public async Task A_second_source_cannot_take_over_the_keys_of_the_first()
    {
        var prefix = Unique();
        var client = api.CreateClient();
        var csv = (string title) => $"external_id,title,event_type,occurred_at,lon,lat\n{prefix}-1,{title},riots,2016-01-01,1,1\n";
        await client.ImportOkAsync(csv("From source A"), Csv, $"?source={prefix}-a", inserted: 1, updated: 0, unchanged: 0, rejected: 0);

        var report = await client.ImportOkAsync(csv("From source B"), Csv, $"?source={prefix}-b", inserted: 0, updated: 0, unchanged: 0, rejected: 1);

        var problem = Assert.Single(Problems(report));
        Assert.Equal((2L, "properties.external_id", "external_id"), (problem.Line, problem.Field, problem.Column));
        Assert.Contains($"no import from source '{prefix}-b' created", problem.Reason);
        Assert.Equal("From source A", (await FeatureAsync($"{prefix}-1"))["properties"]!["title"]!.GetValue<string>());
        // Source A still owns it and may update it.
        await client.ImportOkAsync(csv("A again"), Csv, $"?source={prefix}-a", inserted: 0, updated: 1, unchanged: 0, rejected: 0);
    }

    [Fact]
    public async Task An_import_does_not_bring_back_an_incident_an_editor_deleted()
    {
        var prefix = Unique();
        var client = api.CreateClient();
        var csv = $"external_id,title,event_type,occurred_at,lon,lat\n{prefix}-1,Kept,riots,2016-01-01,1,1\n{prefix}-2,Deleted,riots,2016-01-02,2,2\n";
        await client.ImportOkAsync(csv, Csv, $"?source={prefix}", inserted: 2, updated: 0, unchanged: 0, rejected: 0);
        var deleted = (await FeatureAsync($"{prefix}-2"))["id"]!.GetValue<long>();
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteCurrentAsync($"/collections/incidents/items/{deleted}")).StatusCode);

        var report = await client.ImportOkAsync(csv, Csv, $"?source={prefix}", inserted: 0, updated: 0, unchanged: 1, rejected: 1);

        var problem = Assert.Single(Problems(report));
        Assert.Equal((3L, "properties.external_id"), (problem.Line, problem.Field));
        Assert.Contains($"was incident {deleted}, deleted at", problem.Reason);
        Assert.Equal((1L, 1L), ((await api.Database.HistoryAsync(prefix)).Incidents, (await api.Database.HistoryAsync(prefix)).Versions));
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/collections/incidents/items/{deleted}")).StatusCode);

        // Only the source's own deletions stay deleted: another source may take the freed key (and not the live one).
        await client.ImportOkAsync(csv, Csv, $"?source={prefix}-other", inserted: 1, updated: 0, unchanged: 0, rejected: 1);
    }

    [Fact]
    public async Task A_reimport_keeps_an_editors_change_and_names_the_row_unless_the_file_agrees()
    {
        var prefix = Unique();
        var client = api.CreateClient();
        string Csv2(string first, string second) =>
            $"external_id,title,event_type,occurred_at,lon,lat\n{prefix}-1,{first},riots,2016-01-01,1,1\n{prefix}-2,{second},riots,2016-01-02,2,2\n";
        await client.ImportOkAsync(Csv2("Blast in Hom", "Second"), Csv, $"?source={prefix}", inserted: 2, updated: 0, unchanged: 0, rejected: 0);
        var edited = (await FeatureAsync($"{prefix}-1"))["id"]!.GetValue<long>();
        Assert.Equal(HttpStatusCode.OK, (await client.PatchCurrentAsync($"/collections/incidents/items/{edited}", """{"properties":{"title":"Blast in Homs"}}""")).StatusCode);

        // The same file again, and a newer one: the untouched row updates, the edited one is kept and named.
        await client.ImportOkAsync(Csv2("Blast in Hom", "Second"), Csv, $"?source={prefix}", inserted: 0, updated: 0, unchanged: 1, rejected: 1);
        var report = await client.ImportOkAsync(Csv2("Blast in Hom", "Second (corrected)"), Csv, $"?source={prefix}", inserted: 0, updated: 1, unchanged: 0, rejected: 1);
        var problem = Assert.Single(Problems(report));
        Assert.Equal((2L, "properties.external_id"), (problem.Line, problem.Field));
        Assert.Contains($"is incident {edited}, changed by an editor (now version 2)", problem.Reason);
        var kept = (await FeatureAsync($"{prefix}-1"))["properties"]!;
        Assert.Equal(("Blast in Homs", 2), (kept["title"]!.GetValue<string>(), kept["version"]!.GetValue<int>()));

        // A file that agrees with the editor counts the row unchanged. Versions: 2 (the edit) + 2 (the update).
        await client.ImportOkAsync(Csv2("Blast in Homs", "Second (corrected)"), Csv, $"?source={prefix}", inserted: 0, updated: 0, unchanged: 2, rejected: 0);
        Assert.Equal(4L, (await api.Database.HistoryAsync(prefix)).Versions);
    }

    [Fact]
    public async Task An_import_never_overwrites_an_incident_it_did_not_create()
    {
        var prefix = Unique();
        var client = api.CreateClient();
        var manual = Features.Valid("Entered by hand");
        manual["properties"]!["external_id"] = $"{prefix}-1";
        var id = await client.CreateAsync(manual);
        var csv = $"external_id,title,event_type,occurred_at,lon,lat\n{prefix}-1,From a file,riots,2016-01-01,1,1\n";

        var report = await client.ImportOkAsync(csv, Csv, "?source=files", inserted: 0, updated: 0, unchanged: 0, rejected: 1);

        Assert.Equal((2L, "properties.external_id"), (Problems(report)[0].Line, Problems(report)[0].Field));
        Assert.Contains($"is already incident {id}", Problems(report)[0].Reason);
        Assert.Equal("Entered by hand", (await FeatureAsync($"{prefix}-1"))["properties"]!["title"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("?async=true", null)]
    [InlineData("", "respond-async, wait=0")]
    [InlineData("?async=true&source=async-job", null)]
    public async Task An_async_import_runs_as_a_job_whose_progress_and_report_can_be_polled(string query, string? prefer)
    {
        var prefix = Unique();
        var client = api.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, Url + query) { Content = new StringContent(AcledSample(prefix), Encoding.UTF8, Csv) };
        if (prefer is not null) request.Headers.Add("Prefer", prefer);
        var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
        var location = response.Headers.Location!.ToString();
        Assert.Matches(@"^/collections/incidents/imports/\d+$", location);
        // The source asked for is the job's from the first answer on (the default one once the file is read).
        var accepted = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        var source = accepted["report"]!["source"]?.GetValue<string>();
        if (query.Contains("source=")) Assert.Equal("async-job", source);
        else Assert.True(source is null or "acled", source); // acled when the job was quicker than its first answer

        JsonObject job;
        var waited = System.Diagnostics.Stopwatch.StartNew();
        do
        {
            await Task.Delay(100);
            job = await client.GetJsonAsync(location);
        } while (job["status"]!.GetValue<string>() == "running" && waited.Elapsed < TimeSpan.FromMinutes(1));

        Assert.Equal("succeeded", job["status"]!.GetValue<string>());
        Assert.Equal((api.KeyName, "csv", 1.0), (job["created_by"]!.GetValue<string>(), job["format"]!.GetValue<string>(), job["progress"]!.GetValue<double>()));
        AssertCounts(job["report"]!, 25, 0, 0, 5);
        Assert.Equal(6, job["report"]!["rejected_rows"]!.AsArray().Count);
        Assert.NotNull(job["finished_at"]);
        await ProblemAssert.IsProblemAsync(await client.GetAsync(Url + "/999999999"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Imports_need_a_key_with_the_write_scope()
    {
        var csv = "external_id,title,event_type,occurred_at,lon,lat\n";
        var anonymous = await api.CreateAnonymousClient().PostAsync(Url, new StringContent(csv, Encoding.UTF8, Csv));
        await ProblemAssert.IsProblemAsync(anonymous, HttpStatusCode.Unauthorized, "X-API-Key");

        var (readOnly, _) = await api.Services.NewKeyAsync("reader", Scopes.Read);
        var forbidden = await api.CreateClient(readOnly).PostAsync(Url, new StringContent(csv, Encoding.UTF8, Csv));
        await ProblemAssert.IsProblemAsync(forbidden, HttpStatusCode.Forbidden, "X-API-Key");
        await ProblemAssert.IsProblemAsync(await api.CreateAnonymousClient().GetAsync(Url + "/1"), HttpStatusCode.Unauthorized, "X-API-Key");
    }

    [Theory]
    [InlineData("application/octet-stream", "", "a,b\n", HttpStatusCode.UnsupportedMediaType, "Content-Type")]
    [InlineData("text/csv", "?format=xml", "a,b\n", HttpStatusCode.BadRequest, "format")]
    [InlineData("text/csv", "?source=no%20spaces", "a,b\n", HttpStatusCode.BadRequest, "source")]
    [InlineData("text/csv", "?source=line-break%0A", "a,b\n", HttpStatusCode.BadRequest, "source")]
    [InlineData("text/csv", "?sorce=acled", "a,b\n", HttpStatusCode.BadRequest, "sorce")] // not silently the default source
    [InlineData("text/csv", "?source=a&source=b", "a,b\n", HttpStatusCode.BadRequest, "source")]
    [InlineData("text/csv", "?source=", "a,b\n", HttpStatusCode.BadRequest, "source")] // not silently the default source
    [InlineData("text/csv", "?async=yes", "a,b\n", HttpStatusCode.BadRequest, "async")]
    [InlineData("text/csv", "", "title,colour\nx,red\n", HttpStatusCode.BadRequest, "header")]
    [InlineData("text/csv", "", "title,event_type\nx,riots\n", HttpStatusCode.BadRequest, "header")]
    [InlineData("text/csv", "", "", HttpStatusCode.BadRequest, "body")]
    [InlineData("application/geo+json", "", "this is not JSON", HttpStatusCode.BadRequest, "body")]
    [InlineData("application/geo+json", "", "[1, 2]", HttpStatusCode.BadRequest, "body")]
    [InlineData("application/json", "", """{"type": "Feature", "properties": {}}""", HttpStatusCode.BadRequest, "type")]
    [InlineData("application/octet-stream", "?format=geojson", """{"type": "FeatureCollection", "features": [{}, """, HttpStatusCode.BadRequest, "body")]
    public async Task Files_that_cannot_be_read_are_problems_naming_the_field(string mediaType, string query, string body, HttpStatusCode status, string field)
    {
        var response = await api.CreateClient().PostAsync(Url + query, new StringContent(body, new UTF8Encoding(false), mediaType));

        var problem = await ProblemAssert.IsProblemAsync(response, status, field);
        if (status == HttpStatusCode.BadRequest && field is "header" or "body" or "type") Assert.NotNull(problem["line"]);
    }
}
