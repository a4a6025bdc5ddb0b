using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Imports;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Places;
using IncidentMap.Tests.Trust;

namespace IncidentMap.Tests.Incidents;

/// <summary>
/// Control characters (Unicode Cc) sent as JSON escapes were stored: a title with ESC [31m, BEL, BS and
/// a line break, and a tag with U+0001, reached the CSV export raw. Single-line text holds none;
/// the summary and a source's text may hold tabs and line breaks only. Every write refuses the rest with
/// a 422 naming the field and changes nothing.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class ControlCharacterTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    private static string Key() => "ctl-" + Guid.NewGuid().ToString("N")[..10];

    private static JsonObject Keyed(string key)
    {
        var feature = Features.Valid();
        feature["properties"]!["external_id"] = key;
        return feature;
    }

    private async Task<int> CountAsync(string key) =>
        (await _client.GetJsonAsync($"/collections/incidents/items?external_id={key}"))["numberMatched"]!.GetValue<int>();

    [Fact]
    public async Task The_audits_title_and_tag_are_refused_naming_each_field_and_nothing_is_stored()
    {
        var key = Key();
        var feature = Keyed(key);
        feature["properties"]!["title"] = "ctl\u001b[31mRED\u0007\u0008 title\nline2";
        feature["properties"]!["tags"] = new JsonArray("a\u0001");

        var (response, _) = await _client.PostAsync(feature);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, "properties.title");
        var errors = problem["errors"]!.AsArray().ToDictionary(e => e!["field"]!.GetValue<string>(), e => e!["detail"]!.GetValue<string>());
        Assert.Contains("U+001B at character 4", errors["properties.title"]);
        Assert.Contains("U+0001 at character 2", errors["properties.tags[0]"]);
        Assert.Equal(0, await CountAsync(key));
    }

    /// <summary>C0 (tab, line feed, escape), DEL and C1 (NEL, CSI) inside each single-line field.</summary>
    [Theory]
    [InlineData("title", "a\tb")]
    [InlineData("external_id", "E\n1")]
    [InlineData("sub_event_type", "Suicide\u007fbomb")]
    [InlineData("location_name", "Homs\u0085Bab Amr")]
    [InlineData("admin1", "Homs\u009b31m")]
    [InlineData("admin2", "Homs\rX")]
    [InlineData("admin3", "Homs\u0007X")]
    [InlineData("claimed_by", "IS\u001b")]
    [InlineData("tags[1]", "x\u000by")]
    [InlineData("actors[0]", "Islamic\u0090State")]
    public async Task Each_single_line_field_refuses_control_characters(string field, string value)
    {
        var key = Key();
        var feature = Keyed(key);
        var properties = feature["properties"]!.AsObject();
        if (field.EndsWith(']'))
        {
            var list = field[..field.IndexOf('[')];
            properties[list] = list == "tags" ? new JsonArray("fine", value) : new JsonArray(value);
        }
        else properties[field] = value;

        var (response, _) = await _client.PostAsync(feature);

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, $"properties.{field}");
        Assert.Equal(0, await CountAsync(key));
    }

    /// <summary>
    /// A place name to geocode (no geometry) is validated before it is looked up: "Ho\nms" was a 422 "no place is named
    /// 'Ho\nms'; did you mean …", and an admin1 with a control character was ignored while the name was looked up
    /// ("Damascus" then ambiguous), instead of the control-character message naming the field.
    /// </summary>
    [Theory]
    [InlineData("Ho\nms", null, "location_name")]
    [InlineData("Homs\u001b", null, "location_name")]
    [InlineData("Damascus", "Or\u0007egon", "admin1")]
    public async Task A_place_name_to_geocode_is_refused_for_its_control_characters_not_looked_up(string name, string? admin1, string field)
    {
        var key = Key();
        var feature = PlaceHelpers.Unlocated(name);
        feature["properties"]!["external_id"] = key;
        if (admin1 is not null) feature["properties"]!["admin1"] = admin1;

        var (response, _) = await _client.PostAsync(feature);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, $"properties.{field}");
        var errors = problem["errors"]!.AsArray().ToDictionary(e => e!["field"]!.GetValue<string>(), e => e!["detail"]!.GetValue<string>());
        Assert.Contains("single-line text may not hold control characters", errors[$"properties.{field}"]);
        Assert.DoesNotContain("did you mean", problem["detail"]!.GetValue<string>());
        Assert.Equal(0, await CountAsync(key));
    }

    [Fact]
    public async Task White_space_the_trim_takes_off_is_not_refused_and_prose_keeps_tabs_and_line_breaks()
    {
        var feature = Keyed(Key());
        var properties = feature["properties"]!.AsObject();
        properties["title"] = "Car bomb\r\n";
        properties["tags"] = new JsonArray("\tsplit\n");
        properties["summary"] = "Two lines,\r\n\tindented.";
        properties["sources"] = new JsonArray(new JsonObject { ["publisher"] = "SANA\nEnglish", ["title"] = "Homs:\tblasts" });

        var (response, body) = await _client.PostAsync(feature);

        Assert.True(response.StatusCode == HttpStatusCode.Created, body?.ToJsonString());
        Assert.Equal("Car bomb", body!["properties"]!["title"]!.GetValue<string>());
        Assert.Equal("split", body["properties"]!["tags"]![0]!.GetValue<string>());
        Assert.Equal("Two lines,\r\n\tindented.", body["properties"]!["summary"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("summary", null, "What\u0007 happened")]
    [InlineData("sources[0].title", "title", "Homs\u001b[2J")]
    [InlineData("sources[0].publisher", "publisher", "SANA\u0085")]
    [InlineData("sources[0].url", "url", "https://example.org/a\nb")]
    public async Task Prose_refuses_every_control_character_but_tab_and_line_breaks(string field, string? sourceField, string value)
    {
        var key = Key();
        var feature = Keyed(key);
        if (sourceField is null) feature["properties"]!["summary"] = value;
        else feature["properties"]!["sources"] = new JsonArray(new JsonObject { ["publisher"] = "SANA", [sourceField] = value });

        var (response, _) = await _client.PostAsync(feature);

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, $"properties.{field}");
        Assert.Equal(0, await CountAsync(key));
    }

    [Fact]
    public async Task Replacing_and_patching_refuse_them_and_change_nothing()
    {
        var id = await _client.CreateAsync(Features.Valid("Before"));
        var url = $"/collections/incidents/items/{id}";
        var before = await _client.GetJsonAsync(url);

        var patched = await _client.PatchCurrentAsync(url, """{"properties":{"title":"a\u0001b"}}""");
        await ProblemAssert.IsProblemAsync(patched, HttpStatusCode.UnprocessableEntity, "properties.title");
        var replacement = Features.Valid("After");
        replacement["properties"]!["actors"] = new JsonArray("Army", "Rebels\u009c");
        var replaced = await _client.PutCurrentAsync(url, Features.Content(replacement));
        await ProblemAssert.IsProblemAsync(replaced, HttpStatusCode.UnprocessableEntity, "properties.actors[1]");

        var after = await _client.GetJsonAsync(url);
        Assert.Equal("Before", after["properties"]!["title"]!.GetValue<string>());
        Assert.Equal(before["properties"]!["version"]!.GetValue<long>(), after["properties"]!["version"]!.GetValue<long>());
    }

    [Fact]
    public async Task Every_import_format_rejects_the_row_naming_its_line_field_and_reason()
    {
        var prefix = ImportHelpers.Unique();
        JsonObject Row(string n, string field, string value)
        {
            var feature = Keyed($"{prefix}-{n}");
            feature["properties"]![field] = value;
            return feature;
        }

        var ndjson = $"{Keyed($"{prefix}-n1").ToJsonString()}\n{Row("n2", "location_name", "Homs\u0007").ToJsonString()}\n";
        var ndReport = await _client.ImportOkAsync(ndjson, "application/x-ndjson", "?source=" + prefix, inserted: 1, updated: 0, unchanged: 0, rejected: 1);
        var nd = Assert.Single(ImportHelpers.Problems(ndReport));
        Assert.Equal((2L, "properties.location_name"), (nd.Line, nd.Field));
        Assert.Contains("control character U+0007", nd.Reason);

        var collection = new JsonObject { ["type"] = "FeatureCollection", ["features"] = new JsonArray(Row("g1", "summary", "bad\u0008")) };
        var geoReport = await _client.ImportOkAsync(collection.ToJsonString(), "application/geo+json", "?source=" + prefix, inserted: 0, updated: 0, unchanged: 0, rejected: 1);
        Assert.Equal("properties.summary", Assert.Single(ImportHelpers.Problems(geoReport)).Field);

        var csv = new StringBuilder("external_id,title,event_type,occurred_at,tags,lon,lat\n")
            .Append($"{prefix}-c1,\"Two\nlines\",riots,2016-01-01,,36.5,34.5\n")
            .Append($"{prefix}-c2,Fine,riots,2016-01-01,ok;b\u001bad,36.5,34.5\n")
            .Append($"{prefix}-c3,Fine,riots,2016-01-01,ok,36.5,34.5\n").ToString();
        var csvReport = await _client.ImportOkAsync(csv, "text/csv", "?source=" + prefix, inserted: 1, updated: 0, unchanged: 0, rejected: 2);
        var rows = ImportHelpers.Problems(csvReport).Select(p => (p.Line, p.Field, p.Column)).ToList();
        Assert.Equal([(2L, "properties.title", "title"), (4L, "properties.tags[1]", "tags")], rows);

        // The sample's header and first two events (SYR10001 on line 2), the first's notes with a BEL in them.
        var acled = string.Join('\n', ImportHelpers.AcledSample(prefix).Split('\n')[..3]).Replace("Two car bombs exploded", "Two car\u0007 bombs exploded");
        var acledReport = await _client.ImportOkAsync(acled, "text/csv", "?source=" + prefix + "a", inserted: 1, updated: 0, unchanged: 0, rejected: 1);
        var notes = Assert.Single(ImportHelpers.Problems(acledReport));
        Assert.Equal((2L, "properties.summary", "notes"), (notes.Line, notes.Field, notes.Column));
        Assert.Contains("control character U+0007", notes.Reason);

        Assert.Equal(1, await CountAsync($"{prefix}-n1"));
        Assert.Equal(0, await CountAsync($"{prefix}-n2"));
        Assert.Equal(0, await CountAsync($"{prefix}-c1"));
    }

    [Fact]
    public async Task Editors_places_refuse_them_in_names_and_admin1_and_a_patch_changes_nothing()
    {
        var name = "Ctl " + Guid.NewGuid().ToString("N")[..6];
        JsonObject Place(string placeName, string admin1, params string[] alternates) => new()
        {
            ["type"] = "Feature",
            ["geometry"] = Features.Point(36.34, 33.44),
            ["properties"] = new JsonObject
            {
                ["name"] = placeName, ["country"] = "SY", ["admin1"] = admin1, ["kind"] = "suburb",
                ["alternate_names"] = new JsonArray(alternates.Select(a => (JsonNode)a).ToArray()),
            },
        };

        foreach (var (place, field) in new[]
                 {
                     (Place(name + "\u0007", "Rif Dimashq"), "properties.name"),
                     (Place(name, "Rif\nDimashq"), "properties.admin1"),
                     (Place(name, "Rif Dimashq", "Fine", "Bad\u0085name"), "properties.alternate_names[1]"),
                 })
            await ProblemAssert.IsProblemAsync(await _client.PostAsync("/collections/places/items", Features.Content(place)),
                HttpStatusCode.UnprocessableEntity, field);
        Assert.Equal(0, await api.Database.ScalarAsync<long>("SELECT count(*) FROM places WHERE name LIKE @prefix", new { prefix = name + "%" }));

        var id = await _client.AddPlaceAsync(name, 36.34, 33.44, "SY", "Rif Dimashq", "suburb");
        var patched = await _client.PatchAsync($"/collections/places/items/{id}",
            new StringContent("""{"properties":{"name":"x\u001by"}}""", Encoding.UTF8, "application/merge-patch+json"));
        await ProblemAssert.IsProblemAsync(patched, HttpStatusCode.UnprocessableEntity, "properties.name");
        Assert.Equal(name, (await _client.GetJsonAsync($"/collections/places/items/{id}"))["properties"]!["name"]!.GetValue<string>());
    }
}
