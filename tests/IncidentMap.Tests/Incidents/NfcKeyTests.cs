using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Tests.Imports;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Incidents;

/// <summary>
/// An external_id is one key however its accents are encoded: "Café-1" with é as one code point (NFC)
/// or as e + U+0301 (NFD, as macOS file names and some exports carry it) was two incidents, through
/// single writes and imports alike. Writes store the key in NFC.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class NfcKeyTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    // Strings are compared ordinally here: xunit's default comparisons of strings (in collections, and
    // Contains) go by the culture, for which the two forms are the same text.

    /// <summary>A key with an accent, in NFC and in NFD.</summary>
    private static (string Composed, string Decomposed) Key()
    {
        var composed = $"{ImportHelpers.Unique()}-Café-1".Normalize(NormalizationForm.FormC);
        var decomposed = composed.Normalize(NormalizationForm.FormD);
        Assert.NotEqual(composed, decomposed);
        return (composed, decomposed);
    }

    private static JsonObject WithKey(string key, string? title = null)
    {
        var feature = Features.Valid(title);
        feature["properties"]!["external_id"] = key;
        return feature;
    }

    /// <summary>The stored keys of live incidents whose key is either spelling.</summary>
    private async Task<List<string>> StoredKeysAsync((string Composed, string Decomposed) key)
    {
        await using var connection = await api.Database.OpenConnectionAsync();
        return (await connection.QueryAsync<string>(
            "SELECT external_id FROM incidents WHERE external_id IN (@composed, @decomposed) AND deleted_at IS NULL",
            new { composed = key.Composed, decomposed = key.Decomposed })).ToList();
    }

    [Fact]
    public async Task A_key_sent_decomposed_is_stored_composed_and_the_composed_one_is_then_a_duplicate()
    {
        var key = Key();

        var (created, body) = await _client.PostAsync(WithKey(key.Decomposed));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(key.Composed, body!["properties"]!["external_id"]!.GetValue<string>(), StringComparer.Ordinal);

        // Either spelling is the same key: a 409, as for the identical key.
        foreach (var spelling in new[] { key.Composed, key.Decomposed })
        {
            var (response, _) = await _client.PostAsync(WithKey(spelling));
            var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Conflict, "properties.external_id");
            Assert.Contains(key.Composed, problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        }
        Assert.Equal([key.Composed], await StoredKeysAsync(key), StringComparer.Ordinal);
    }

    [Fact]
    public async Task Replacing_and_patching_store_the_key_composed()
    {
        var key = Key();
        var url = $"/collections/incidents/items/{await _client.CreateAsync(Features.Valid())}";

        var replaced = await _client.PutCurrentAsync(url, Features.Content(WithKey(key.Decomposed)));
        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
        Assert.Equal([key.Composed], await StoredKeysAsync(key), StringComparer.Ordinal);

        var other = Key();
        var patched = await _client.PatchCurrentAsync(url, new JsonObject { ["properties"] = new JsonObject { ["external_id"] = other.Decomposed } }.ToJsonString());
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        Assert.Equal(other.Composed, JsonNode.Parse(await patched.Content.ReadAsStringAsync())!["properties"]!["external_id"]!.GetValue<string>(),
            StringComparer.Ordinal);
        Assert.Equal([other.Composed], await StoredKeysAsync(other), StringComparer.Ordinal);
    }

    [Fact]
    public async Task An_import_upserts_one_incident_whichever_form_each_file_spells_its_key_in()
    {
        var source = ImportHelpers.Unique();
        var key = Key();
        var query = "?source=" + source;
        var ndjson = WithKey(key.Decomposed, "Car bomb").ToJsonString();
        var csv = $"external_id,title,event_type,occurred_at,lon,lat\n{key.Composed},Car bomb,explosions_remote_violence,2016-02-21T07:30:00Z,36.7236,34.7197\n";

        await _client.ImportOkAsync(ndjson, "application/x-ndjson", query, inserted: 1, updated: 0, unchanged: 0, rejected: 0);
        // The same incident in the other form, in another format: nothing to change, no new version.
        await _client.ImportOkAsync(csv, "text/csv", query, inserted: 0, updated: 0, unchanged: 1, rejected: 0);
        await _client.ImportOkAsync(ndjson, "application/x-ndjson", query, inserted: 0, updated: 0, unchanged: 1, rejected: 0);
        // A change sent under the other form updates that incident.
        await _client.ImportOkAsync(csv.Replace("Car bomb", "Car bombs"), "text/csv", query, inserted: 0, updated: 1, unchanged: 0, rejected: 0);

        Assert.Equal([key.Composed], await StoredKeysAsync(key), StringComparer.Ordinal);
        await using var connection = await api.Database.OpenConnectionAsync();
        Assert.Equal(("Car bombs", 2), await connection.QuerySingleAsync<(string, int)>(
            "SELECT title, version FROM incidents WHERE external_id = @key", new { key = key.Composed }));
    }

    [Fact]
    public async Task A_file_spelling_one_key_both_ways_holds_it_twice()
    {
        var key = Key();
        var ndjson = WithKey(key.Composed).ToJsonString() + "\n" + WithKey(key.Decomposed).ToJsonString() + "\n";

        var report = await _client.ImportOkAsync(ndjson, "application/x-ndjson", "?source=" + ImportHelpers.Unique(),
            inserted: 1, updated: 0, unchanged: 0, rejected: 1);

        var problem = Assert.Single(ImportHelpers.Problems(report));
        Assert.Equal((2L, "properties.external_id"), (problem.Line, problem.Field));
        Assert.Contains("on line 1 of this file already", problem.Reason);
    }

    [Fact]
    public async Task A_single_write_of_a_key_stored_by_an_import_is_a_duplicate_in_either_form()
    {
        var key = Key();
        await _client.ImportOkAsync(WithKey(key.Composed).ToJsonString(), "application/x-ndjson", "?source=" + ImportHelpers.Unique(),
            inserted: 1, updated: 0, unchanged: 0, rejected: 0);

        var (response, _) = await _client.PostAsync(WithKey(key.Decomposed));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Conflict, "properties.external_id");
        Assert.Equal([key.Composed], await StoredKeysAsync(key), StringComparer.Ordinal);
    }

    [Fact]
    public async Task The_length_of_a_key_is_that_of_its_composed_form()
    {
        // U+0958 (Devanagari qa) is one of the few characters longer in NFC: two code points.
        var key = new string('\u0958', 150);
        Assert.Equal(300, key.Normalize(NormalizationForm.FormC).Length);

        var (response, _) = await _client.PostAsync(WithKey(key));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, "properties.external_id");
        Assert.Contains("longer than 200 characters", problem.ToJsonString());
    }

    [Fact]
    public void The_openapi_description_of_external_id_says_it_is_stored_in_nfc()
    {
        var document = JsonNode.Parse(IncidentMap.Api.OpenApi.OpenApiSetup.Render(api.Services))!;
        var description = document["components"]!["schemas"]!["IncidentPropertiesDoc"]!["properties"]!["external_id"]!["description"]!.GetValue<string>();

        Assert.Contains("Unicode NFC", description, StringComparison.Ordinal);
        Assert.Contains("composed and decomposed spellings", description, StringComparison.Ordinal);
        Assert.Contains("same key", description, StringComparison.Ordinal);
    }
}
