using System.Net;
using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Incidents;

[Collection(ApiCollection.Name)]
public sealed class IncidentCrudTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task Create_answers_201_with_location_etag_and_the_stored_feature()
    {
        var feature = Features.Valid("Twin car bombs in al-Zahraa, Homs");
        feature["properties"]!["fatalities_max"] = 60;
        feature["properties"]!["claimed_by"] = "Islamic State";

        var (response, body) = await _client.PostAsync(feature);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("application/geo+json", response.Content.Headers.ContentType?.MediaType);
        var id = body!["id"]!.GetValue<long>();
        Assert.Equal($"/collections/incidents/items/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal("\"v1\"", response.Headers.ETag?.Tag);
        var properties = body["properties"]!;
        Assert.Equal(1, properties["version"]!.GetValue<int>());
        Assert.Equal(60, properties["fatalities_max"]!.GetValue<int>());
        Assert.Null(properties["fatalities_min"]);
        Assert.Equal("Islamic State", properties["claimed_by"]!.GetValue<string>());
        Assert.NotNull(properties["created_at"]);
        Assert.NotNull(properties["updated_at"]);

        var fetched = await _client.GetAsync($"/collections/incidents/items/{id}");
        Assert.Equal(HttpStatusCode.OK, fetched.StatusCode);
        Assert.Equal("\"v1\"", fetched.Headers.ETag?.Tag);
        Assert.True(JsonNode.DeepEquals(body, JsonNode.Parse(await fetched.Content.ReadAsStringAsync())));
    }

    [Fact]
    public async Task Every_property_round_trips_as_sent()
    {
        var feature = Features.Valid("Blasts near the Sayeda Zeinab shrine", Features.Point(36.3408, 33.4436), "2016-02-21T12:45:00Z");
        var sent = new JsonObject
        {
            ["title"] = "Blasts near the Sayeda Zeinab shrine",
            ["summary"] = "A car bomb and suicide bombings near the Shi'ite shrine.",
            ["event_type"] = "explosions_remote_violence",
            ["sub_event_type"] = "Suicide bomb",
            ["occurred_at"] = "2016-02-21T12:45:00Z",
            ["time_precision"] = "exact",
            ["location_name"] = "Sayeda Zeinab",
            ["admin1"] = "Rif Dimashq",
            ["admin2"] = "Rif Dimashq",
            ["admin3"] = "Markaz Rif Dimashq",
            ["country"] = "SY",
            ["geo_precision"] = "town",
            ["fatalities_min"] = 50,
            ["fatalities_max"] = null,
            ["injured_min"] = 3,
            ["injured_max"] = 110,
            ["actors"] = new JsonArray("Islamic State"),
            ["claimed_by"] = "Islamic State",
            ["sources"] = new JsonArray(new JsonObject
            {
                ["publisher"] = "Reuters",
                ["url"] = "https://www.reuters.com/article/us-mideast-crisis-syria-blasts-idUSKCN0VU0BV",
                ["title"] = "Bombings kill scores in Syria's Homs and near Damascus shrine",
                ["published_at"] = "2016-02-21T18:00:00Z",
            }),
            ["status"] = "verified",
            ["tags"] = new JsonArray("car-bomb", "shrine"),
            ["external_id"] = "test:" + Guid.NewGuid(),
        };
        feature["properties"] = sent.DeepClone();

        var (_, body) = await _client.PostAsync(feature);

        var stored = body!["properties"]!.AsObject();
        foreach (var (name, value) in sent)
        {
            var actual = stored[name];
            if (name == "occurred_at")
                Assert.Equal(DateTimeOffset.Parse(value!.GetValue<string>()), DateTimeOffset.Parse(actual!.GetValue<string>()));
            else
                Assert.True(JsonNode.DeepEquals(value, actual), $"{name}: sent {value?.ToJsonString()}, stored {actual?.ToJsonString()}");
        }
    }

    /// <summary>
    /// PostgreSQL keeps microseconds; a seventh decimal is cut toward the past, before 2000 too (Npgsql's own
    /// division rounded those up, so the last tick of 1999 was stored as 2000). The calendar's last storable
    /// instants are stored as such, not as infinity.
    /// </summary>
    [Theory]
    [InlineData("1999-12-31T23:59:59.9999999Z", "1999-12-31T23:59:59.999999")]
    [InlineData("1969-07-20T20:17:40.0000005Z", "1969-07-20T20:17:40.000000")]
    [InlineData("2016-02-21T07:30:00.1234567Z", "2016-02-21T07:30:00.123456")]
    [InlineData("9999-12-31T23:59:59.9999999Z", "9999-12-31T23:59:59.999999")]
    [InlineData("0001-01-01T00:00:00.000001Z", "0001-01-01T00:00:00.000001")]
    [InlineData("9999-12-30", "9999-12-30T00:00:00.000000")]
    public async Task A_time_is_stored_to_the_microsecond_cut_toward_the_past(string sent, string stored)
    {
        var feature = Features.Valid();
        feature["properties"]!["occurred_at"] = sent;
        var id = await _client.CreateAsync(feature);

        await using var connection = await api.Database.OpenConnectionAsync();
        var (actual, finite) = await connection.QuerySingleAsync<(string, bool)>(
            """SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), isfinite(occurred_at) AND isfinite(occurred_until) FROM incidents WHERE id = @id""",
            new { id });
        Assert.Equal((stored, true), (actual, finite));
        var history = await _client.GetJsonAsync($"/collections/incidents/items/{id}/history/1");
        Assert.StartsWith(stored[..19], history["properties"]!["occurred_at"]!.GetValue<string>());
        // Deleted before any test reads the collection's extent (which would keep the year 1 until its next full read).
        Assert.Equal(HttpStatusCode.NoContent, (await _client.DeleteCurrentAsync($"/collections/incidents/items/{id}")).StatusCode);
    }

    public static TheoryData<string> Geometries => new()
    {
        """{"type":"Point","coordinates":[36.7236,34.7197]}""",
        """{"type":"LineString","coordinates":[[36.70,34.70],[36.75,34.73],[36.80,34.74]]}""",
        """{"type":"Polygon","coordinates":[[[36.6,34.6],[36.8,34.6],[36.8,34.8],[36.6,34.8],[36.6,34.6]],[[36.65,34.65],[36.65,34.7],[36.7,34.7],[36.65,34.65]]]}""",
        """{"type":"MultiPoint","coordinates":[[36.7236,34.7197],[36.3408,33.4436]]}""",
        """{"type":"MultiLineString","coordinates":[[[36.1,34.1],[36.2,34.2]],[[36.3,34.3],[36.4,34.5]]]}""",
        """{"type":"MultiPolygon","coordinates":[[[[36,34],[36.1,34],[36.1,34.1],[36,34]]],[[[37,35],[37.1,35],[37.1,35.1],[37,35]]]]}""",
        """{"type":"Point","coordinates":[-179.9999999,-89.9999999]}""",
    };

    [Theory]
    [MemberData(nameof(Geometries))]
    public async Task Geometry_is_stored_exactly_as_sent_compared_inside_postgis(string geometry)
    {
        var id = await _client.CreateAsync(Features.Valid(geometry: Features.Geometry(geometry)));

        await using var connection = await api.Database.OpenConnectionAsync();
        var same = await connection.ExecuteScalarAsync<bool>(
            "SELECT ST_AsEWKB(geom) = ST_AsEWKB(ST_SetSRID(ST_GeomFromGeoJSON(@geometry), 4326)) FROM incidents WHERE id = @id",
            new { id, geometry });
        Assert.True(same);

        var fetched = await _client.GetJsonAsync($"/collections/incidents/items/{id}");
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(geometry), fetched["geometry"]), fetched["geometry"]!.ToJsonString());
    }

    public static TheoryData<string> FineGeometries => new()
    {
        // Nine and more decimals, digits no double rounding to 7 or 9 decimals keeps.
        """{"type":"Point","coordinates":[36.123456789012345,34.000000012345678]}""",
        """{"type":"Point","coordinates":[1.2345678901234567,0.000012345678901234567]}""",
        // Valid as sent; rounded to 7 decimals, its third vertex falls on its first edge (self-intersection).
        """{"type":"Polygon","coordinates":[[[36,34],[36.5,34],[36.25,34.00000002],[36,34]]]}""",
    };

    [Theory]
    [MemberData(nameof(FineGeometries))]
    public async Task Reads_and_writes_that_leave_the_geometry_alone_keep_every_digit_of_it(string geometry)
    {
        var id = await _client.CreateAsync(Features.Valid(geometry: Features.Geometry(geometry)));
        var url = $"/collections/incidents/items/{id}";
        var sent = JsonNode.Parse(geometry)!;
        // The same doubles, however printed (PostGIS writes tiny ones with an exponent).
        static bool Same(JsonNode expected, JsonNode? actual) => actual is not null && Flatten(expected).SequenceEqual(Flatten(actual));
        static IEnumerable<double> Flatten(JsonNode node) => node switch
        {
            JsonArray array => array.SelectMany(n => Flatten(n!)),
            JsonObject shape => Flatten(shape["coordinates"]!),
            _ => [node.GetValue<double>()],
        };

        // A single incident reads back as stored, not rounded to the lists' 7 decimals.
        var fetched = await _client.GetJsonAsync(url);
        Assert.True(Same(sent, fetched["geometry"]), fetched["geometry"]!.ToJsonString());

        // A patch of a property is merged into the stored geometry: it neither fails on nor changes it.
        var patched = await _client.PatchCurrentAsync(url, """{"properties":{"fatalities_max":3}}""");
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        var body = JsonNode.Parse(await patched.Content.ReadAsStringAsync())!;
        Assert.True(Same(sent, body["geometry"]), body["geometry"]!.ToJsonString());

        // What was read, sent back whole, changes nothing; the history names only the patched property.
        fetched = await _client.GetJsonAsync(url);
        var again = await _client.PutCurrentAsync(url, Features.Content(fetched.AsObject()));
        Assert.Equal("\"v2\"", again.Headers.ETag?.Tag);
        var history = await _client.GetJsonAsync($"{url}/history");
        Assert.Equal(["fatalities_max"], history["revisions"]![1]!["changed_fields"]!.AsArray().Select(f => f!.GetValue<string>()));

        await using var connection = await api.Database.OpenConnectionAsync();
        Assert.True(await connection.ExecuteScalarAsync<bool>(
            "SELECT ST_AsEWKB(geom) = ST_AsEWKB(ST_SetSRID(ST_GeomFromGeoJSON(@geometry), 4326)) FROM incidents WHERE id = @id",
            new { id, geometry }));
        // The revision of version 1, kept when version 2 was written, holds the geometry as stored too.
        var first = await _client.GetJsonAsync($"{url}/history/1");
        Assert.True(Same(sent, first["geometry"]), first["geometry"]!.ToJsonString());
    }

    [Fact]
    public async Task Put_replaces_the_incident_and_bumps_the_version()
    {
        var id = await _client.CreateAsync(Features.Valid("Before"));
        var replacement = Features.Valid("After", Features.Point(36.3408, 33.4436));
        replacement["properties"]!["status"] = "verified";

        var request = new HttpRequestMessage(HttpMethod.Put, $"/collections/incidents/items/{id}")
        { Content = Features.Content(replacement) }.WithIfMatch("\"v1\"");
        var response = await _client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("\"v2\"", response.Headers.ETag?.Tag);
        var fetched = await _client.GetJsonAsync($"/collections/incidents/items/{id}");
        Assert.Equal("After", fetched["properties"]!["title"]!.GetValue<string>());
        Assert.Equal("verified", fetched["properties"]!["status"]!.GetValue<string>());
        Assert.Equal(2, fetched["properties"]!["version"]!.GetValue<int>());
        Assert.Equal(36.3408, fetched["geometry"]!["coordinates"]![0]!.GetValue<double>());
    }

    [Fact]
    public async Task Patch_merges_changes_and_null_clears_a_property()
    {
        var feature = Features.Valid("Death toll to be revised");
        feature["properties"]!["fatalities_max"] = 60;
        feature["properties"]!["summary"] = "Early report.";
        var id = await _client.CreateAsync(feature);

        var patch = new JsonObject { ["properties"] = new JsonObject { ["fatalities_min"] = 57, ["summary"] = null } };
        var response = await _client.PatchCurrentAsync($"/collections/incidents/items/{id}", patch.ToJsonString());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(57, body["properties"]!["fatalities_min"]!.GetValue<int>());
        Assert.Equal(60, body["properties"]!["fatalities_max"]!.GetValue<int>());
        Assert.Null(body["properties"]!["summary"]);
        Assert.Equal("Death toll to be revised", body["properties"]!["title"]!.GetValue<string>());
        Assert.Equal(2, body["properties"]!["version"]!.GetValue<int>());
    }

    [Fact]
    public async Task Patch_that_breaks_a_rule_is_refused_and_changes_nothing()
    {
        var feature = Features.Valid();
        feature["properties"]!["fatalities_max"] = 10;
        var id = await _client.CreateAsync(feature);

        var patch = new JsonObject { ["properties"] = new JsonObject { ["fatalities_min"] = 11 } };
        var response = await _client.PatchCurrentAsync($"/collections/incidents/items/{id}", patch.ToJsonString());

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, "properties.fatalities_min");
        var fetched = await _client.GetJsonAsync($"/collections/incidents/items/{id}");
        Assert.Equal(1, fetched["properties"]!["version"]!.GetValue<int>());
        Assert.Null(fetched["properties"]!["fatalities_min"]);
    }

    [Fact]
    public async Task Delete_hides_the_incident_from_reads_but_keeps_the_row()
    {
        var id = await _client.CreateAsync(Features.Valid());

        var response = await _client.DeleteCurrentAsync($"/collections/incidents/items/{id}");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        await ProblemAssert.IsProblemAsync(await _client.GetAsync($"/collections/incidents/items/{id}"), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await _client.DeleteCurrentAsync($"/collections/incidents/items/{id}"), HttpStatusCode.NotFound);
        await using var connection = await api.Database.OpenConnectionAsync();
        var deletedAt = await connection.ExecuteScalarAsync<DateTime?>("SELECT deleted_at FROM incidents WHERE id = @id", new { id });
        Assert.NotNull(deletedAt);
    }

    [Fact]
    public async Task Stale_if_match_is_refused_with_412_naming_the_current_version()
    {
        var id = await _client.CreateAsync(Features.Valid());
        var first = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Put, $"/collections/incidents/items/{id}")
        { Content = Features.Content(Features.Valid("first edit")) }.WithIfMatch("\"v1\""));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);

        var second = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Put, $"/collections/incidents/items/{id}")
        { Content = Features.Content(Features.Valid("second edit")) }.WithIfMatch("\"v1\""));

        var problem = await ProblemAssert.IsProblemAsync(second, HttpStatusCode.PreconditionFailed, "If-Match");
        Assert.Contains("version 2", problem["detail"]!.GetValue<string>());
        Assert.Equal("\"v2\"", second.Headers.ETag?.Tag); // to retry against without reading first
    }

    [Fact]
    public async Task If_none_match_with_the_current_etag_answers_304()
    {
        var id = await _client.CreateAsync(Features.Valid());
        var request = new HttpRequestMessage(HttpMethod.Get, $"/collections/incidents/items/{id}");
        request.Headers.IfNoneMatch.Add(new System.Net.Http.Headers.EntityTagHeaderValue("\"v1\""));

        var response = await _client.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("999999999")]
    [InlineData("abc")]
    [InlineData("-1")]
    public async Task Unknown_incident_is_a_404_problem(string id)
    {
        var response = await _client.GetAsync($"/collections/incidents/items/{id}");
        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.NotFound);
        Assert.Contains(id, problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_write_that_changes_nothing_makes_no_new_version()
    {
        var feature = Features.Valid("Unchanged");
        var id = await _client.CreateAsync(feature);
        var url = $"/collections/incidents/items/{id}";

        foreach (var (response, what) in new[]
        {
            (await _client.PatchCurrentAsync(url, """{"properties":{"title":"Unchanged"}}"""), "the same title"),
            // Its own id echoed back is fine; another incident's is a 400 (FeatureEnvelopeTests).
            (await _client.PatchCurrentAsync(url, "{\"properties\":{\"version\":99},\"id\":" + id + "}"), "server-owned members"),
            (await _client.PutCurrentAsync(url, Features.Content(feature)), "the same feature again"),
        })
        {
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{what}: {(int)response.StatusCode}");
            Assert.Equal("\"v1\"", response.Headers.ETag?.Tag);
        }
        await using (var connection = await api.Database.OpenConnectionAsync())
            Assert.Equal(1L, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM incident_revisions WHERE incident_id = @id", new { id }));

        var changed = await _client.PatchCurrentAsync(url, """{"properties":{"title":"Changed"}}""");
        Assert.Equal("\"v2\"", changed.Headers.ETag?.Tag);
    }

    [Fact]
    public async Task Duplicate_external_id_is_a_409_conflict()
    {
        var feature = Features.Valid();
        var key = "test:dup:" + Guid.NewGuid();
        feature["properties"]!["external_id"] = key;
        var first = await _client.CreateAsync(feature);

        var (response, _) = await _client.PostAsync(feature);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Conflict, "properties.external_id");
        Assert.Contains(key, problem["detail"]!.GetValue<string>());
        await using var connection = await api.Database.OpenConnectionAsync();
        Assert.Equal([first], await connection.QueryAsync<long>("SELECT id FROM incidents WHERE external_id = @key", new { key }));
    }
}
