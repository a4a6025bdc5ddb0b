using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Imports;

namespace IncidentMap.Tests.Incidents;

/// <summary>
/// Single-line free text is stored without the white space around it, whichever way it is written:
/// "Homs " was stored so, and location_name=Homs did not find it.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class WriteTrimTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    private static readonly string[] Trimmed = ["location_name", "admin1", "admin2", "admin3", "sub_event_type", "claimed_by"];

    private static string Tag() => "trim-" + Guid.NewGuid().ToString("N")[..10];

    /// <summary>An incident whose single-line text has white space around it, Unicode's own included.</summary>
    private static JsonObject Padded(string tag)
    {
        var feature = Features.Valid(" Car bomb\t");
        var properties = feature["properties"]!.AsObject();
        properties["location_name"] = "Homs ";
        properties["admin1"] = "\u00a0Homs";                    // a no-break space, as text copied from a page carries
        properties["admin2"] = " Homs\u3000";                    // an ideographic space
        properties["admin3"] = "Homs\u2003";                     // an em space
        properties["sub_event_type"] = "Suicide bomb\n";
        properties["claimed_by"] = " Islamic State ";
        properties["summary"] = "  Two lines,\n  as written.  ";
        properties["tags"] = new JsonArray(tag);
        return feature;
    }

    private static void AssertTrimmed(JsonNode? feature)
    {
        var properties = feature!["properties"]!;
        Assert.Equal("Car bomb", properties["title"]!.GetValue<string>());
        Assert.Equal(["Homs", "Homs", "Homs", "Homs", "Suicide bomb", "Islamic State"], Trimmed.Select(name => properties[name]!.GetValue<string>()));
        // Prose keeps its lines and indentation.
        Assert.Equal("  Two lines,\n  as written.  ", properties["summary"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_new_incident_is_stored_without_the_spaces_around_its_names_and_found_by_them()
    {
        var tag = Tag();
        var (response, body) = await _client.PostAsync(Padded(tag));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        AssertTrimmed(body);
        AssertTrimmed(await _client.GetJsonAsync($"/collections/incidents/items/{body!["id"]}"));
        var found = await _client.GetJsonAsync($"/collections/incidents/items?location_name=Homs&admin1=Homs&admin2=Homs&admin3=Homs&claimed_by=Islamic%20State&sub_event_type=Suicide%20bomb&tags={tag}");
        Assert.Equal(1, found["numberMatched"]!.GetValue<int>());
    }

    [Fact]
    public async Task Replacing_and_patching_trim_the_same_way()
    {
        var tag = Tag();
        var id = await _client.CreateAsync(Features.Valid());
        var url = $"/collections/incidents/items/{id}";

        var replaced = await _client.PutCurrentAsync(url, Features.Content(Padded(tag)));
        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
        AssertTrimmed(JsonNode.Parse(await replaced.Content.ReadAsStringAsync()));

        var patched = await _client.PatchCurrentAsync(url, """{"properties": {"location_name": " Bab Amr\t", "claimed_by": "  "}}""");
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        var properties = JsonNode.Parse(await patched.Content.ReadAsStringAsync())!["properties"]!;
        Assert.Equal("Bab Amr", properties["location_name"]!.GetValue<string>());
        Assert.Null(properties["claimed_by"]);                  // blank is none
    }

    [Fact]
    public async Task Imports_trim_the_same_way_in_every_format()
    {
        var prefix = ImportHelpers.Unique();
        var tag = Tag();
        var json = Padded(tag);
        json["properties"]!["external_id"] = $"{prefix}-json";
        var csv = new StringBuilder("external_id,title,event_type,occurred_at,location_name,admin1,admin2,admin3,sub_event_type,claimed_by,summary,tags,lon,lat\n")
            .Append($"{prefix}-csv, Car bomb\t,explosions_remote_violence,2016-02-21T07:30:00Z,Homs ,\u00a0Homs,\" Homs\u3000\",Homs\u2003,\"Suicide bomb\n\", Islamic State ,\"  Two lines,\n  as written.  \",{tag},36.7236,34.7197\n")
            .ToString();

        await _client.ImportOkAsync(json.ToJsonString(), "application/x-ndjson", "?source=" + prefix, inserted: 1, updated: 0, unchanged: 0, rejected: 0);
        await _client.ImportOkAsync(csv, "text/csv", "?source=" + prefix, inserted: 1, updated: 0, unchanged: 0, rejected: 0);

        var found = await _client.GetJsonAsync($"/collections/incidents/items?location_name=Homs&tags={tag}");
        Assert.Equal(2, found["numberMatched"]!.GetValue<int>());
        foreach (var feature in found["features"]!.AsArray()) AssertTrimmed(feature);
        // The same files again change nothing: what they say is what is stored.
        await _client.ImportOkAsync(json.ToJsonString(), "application/x-ndjson", "?source=" + prefix, inserted: 0, updated: 0, unchanged: 1, rejected: 0);
        await _client.ImportOkAsync(csv, "text/csv", "?source=" + prefix, inserted: 0, updated: 0, unchanged: 1, rejected: 0);
    }

    [Fact]
    public async Task Lengths_are_those_of_the_trimmed_text()
    {
        var feature = Features.Valid();
        feature["properties"]!["location_name"] = new string('a', 500) + "  ";

        var (response, body) = await _client.PostAsync(feature);

        Assert.True(response.StatusCode == HttpStatusCode.Created, body?.ToJsonString());
        Assert.Equal(500, body!["properties"]!["location_name"]!.GetValue<string>().Length);
    }
}
