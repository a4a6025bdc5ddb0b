using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Trust;

namespace IncidentMap.Tests.Incidents;

[Collection(ApiCollection.Name)]
public sealed class IncidentValidationTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    private static readonly Dictionary<string, (Action<JsonObject> Break, string Field)> Rules = new()
    {
        ["longitude out of range"] = (f => f["geometry"] = Features.Point(200, 34), "geometry.coordinates"),
        ["latitude out of range"] = (f => f["geometry"] = Features.Point(36, -91), "geometry.coordinates"),
        ["coordinate that overflows a double"] = (f => f["geometry"] = JsonNode.Parse("""{"type":"Point","coordinates":[1e400,34]}"""), "geometry.coordinates"),
        ["coordinate that is a string"] = (f => f["geometry"] = JsonNode.Parse("""{"type":"Point","coordinates":["36",34]}"""), "geometry"),
        ["unknown geometry type"] = (f => f["geometry"] = JsonNode.Parse("""{"type":"Circle","coordinates":[36,34]}"""), "geometry.type"),
        ["geometry collection"] = (f => f["geometry"] = JsonNode.Parse("""{"type":"GeometryCollection","geometries":[]}"""), "geometry.type"),
        ["missing geometry"] = (f => f.Remove("geometry"), "geometry"),
        ["unclosed ring"] = (f => f["geometry"] = JsonNode.Parse("""{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}"""), "geometry"),
        ["self-intersecting ring"] = (f => f["geometry"] = JsonNode.Parse("""{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}"""), "geometry"),
        ["line with one point"] = (f => f["geometry"] = JsonNode.Parse("""{"type":"LineString","coordinates":[[0,0]]}"""), "geometry"),
        ["empty coordinates"] = (f => f["geometry"] = JsonNode.Parse("""{"type":"MultiPoint","coordinates":[]}"""), "geometry.coordinates"),
        ["too many vertices"] = (f => f["geometry"] = ManyVertices(100_001), "geometry.coordinates"),
        ["polygon edge across the antimeridian"] = (f => f["geometry"] = JsonNode.Parse("""{"type":"Polygon","coordinates":[[[170,10],[-170,10],[-170,20],[170,20],[170,10]]]}"""), "geometry.coordinates"),
        ["line edge spanning more than half the world"] = (f => f["geometry"] = JsonNode.Parse("""{"type":"MultiLineString","coordinates":[[[0,0],[1,1]],[[-100,5],[100,5]]]}"""), "geometry.coordinates"),
        ["line between antipodal points"] = (f => f["geometry"] = JsonNode.Parse("""{"type":"LineString","coordinates":[[0,0],[180,0]]}"""), "geometry.coordinates"),
        ["line from pole to pole"] = (f => f["geometry"] = JsonNode.Parse("""{"type":"MultiLineString","coordinates":[[[0,0],[1,1]],[[5,-90],[7,90]]]}"""), "geometry.coordinates"),
        ["polygon with an edge from pole to pole"] = (f => f["geometry"] = JsonNode.Parse("""{"type":"Polygon","coordinates":[[[-179,-90],[0,-90],[179,-90],[179,90],[0,90],[-179,90],[-179,-90]]]}"""), "geometry.coordinates"),
        ["geometry naming a CRS other than WGS 84"] = (f => f["geometry"] = JsonNode.Parse("""{"type":"Point","coordinates":[36.5,34.5],"crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::3857"}}}"""), "geometry.crs"),
        ["fatalities_min above fatalities_max"] = (f => { f["properties"]!["fatalities_min"] = 60; f["properties"]!["fatalities_max"] = 50; }, "properties.fatalities_min"),
        ["injured_min above injured_max"] = (f => { f["properties"]!["injured_min"] = 6; f["properties"]!["injured_max"] = 5; }, "properties.injured_min"),
        ["negative fatalities"] = (f => f["properties"]!["fatalities_max"] = -1, "properties.fatalities_max"),
        ["fractional injured"] = (f => f["properties"]!["injured_min"] = 2.5, "properties.injured_min"),
        // Not whole as written, though a double rounds it to 0 (it was stored as 0, where 1e-22 written out was refused).
        ["fatalities of 1e-400"] = (f => f["properties"]!["fatalities_max"] = JsonNode.Parse("1e-400"), "properties.fatalities_max"),
        ["fatalities beyond a 32-bit count"] = (f => f["properties"]!["fatalities_max"] = 99_999_999_999L, "properties.fatalities_max"),
        ["fatalities that are text"] = (f => f["properties"]!["fatalities_max"] = "3", "properties.fatalities_max"),
        ["unknown event_type"] = (f => f["properties"]!["event_type"] = "bombing", "properties.event_type"),
        ["unknown status"] = (f => f["properties"]!["status"] = "confirmed", "properties.status"),
        ["unknown time_precision"] = (f => f["properties"]!["time_precision"] = "year", "properties.time_precision"),
        ["unknown geo_precision"] = (f => f["properties"]!["geo_precision"] = "city", "properties.geo_precision"),
        ["bad country code"] = (f => f["properties"]!["country"] = "XX", "properties.country"),
        ["three-letter country code"] = (f => f["properties"]!["country"] = "SYR", "properties.country"),
        ["missing title"] = (f => f["properties"]!.AsObject().Remove("title"), "properties.title"),
        ["blank title"] = (f => f["properties"]!["title"] = "   ", "properties.title"),
        ["missing event_type"] = (f => f["properties"]!.AsObject().Remove("event_type"), "properties.event_type"),
        ["date that does not parse"] = (f => f["properties"]!["occurred_at"] = "21/02/2016", "properties.occurred_at"),
        ["date-time without offset"] = (f => f["properties"]!["occurred_at"] = "2016-02-21T07:30:00", "properties.occurred_at"),
        ["impossible date"] = (f => f["properties"]!["occurred_at"] = "2016-02-30T07:30:00Z", "properties.occurred_at"),
        // Ends in the year 10000, which the collection's extent could not read back (a 500 for every client).
        ["month ending after 9999"] = (f => f["properties"]!["occurred_at"] = "9999-12", "properties.occurred_at"),
        ["last day of 9999"] = (f => f["properties"]!["occurred_at"] = "9999-12-31", "properties.occurred_at"),
        ["week ending after 9999"] = (f => { f["properties"]!["occurred_at"] = "9999-12-28"; f["properties"]!["time_precision"] = "week"; }, "properties.occurred_at"),
        // .NET's first instant, which Npgsql sends as -infinity.
        ["first instant of year 1"] = (f => f["properties"]!["occurred_at"] = "0001-01-01T00:00:00Z", "properties.occurred_at"),
        ["first day of year 1"] = (f => f["properties"]!["occurred_at"] = "0001-01-01", "properties.occurred_at"),
        ["source url that is not http"] = (f => f["properties"]!["sources"] = JsonNode.Parse("""[{"publisher":"x","url":"javascript:alert(1)"}]"""), "properties.sources[0].url"),
        ["source published_at that does not parse"] = (f => f["properties"]!["sources"] = JsonNode.Parse("""[{"publisher":"x","published_at":"yesterday"}]"""), "properties.sources[0].published_at"),
        ["actors that are not strings"] = (f => f["properties"]!["actors"] = new JsonArray(1, 2), "properties.actors[0]"),
        ["more than 100 actors"] = (f => f["properties"]!["actors"] = new JsonArray(Enumerable.Range(0, 101).Select(n => (JsonNode)$"actor {n}").ToArray()), "properties.actors"),
        ["more than 100 tags"] = (f => f["properties"]!["tags"] = new JsonArray(Enumerable.Range(0, 101).Select(n => (JsonNode)$"t{n}").ToArray()), "properties.tags"),
        ["more than 100 sources"] = (f => f["properties"]!["sources"] = new JsonArray(Enumerable.Range(0, 101).Select(n => (JsonNode)new JsonObject { ["publisher"] = $"p{n}" }).ToArray()), "properties.sources"),
        ["title of 501 characters, emoji"] = (f => f["properties"]!["title"] = string.Concat(Enumerable.Repeat("😀", 501)), "properties.title"),
        ["empty external_id"] = (f => f["properties"]!["external_id"] = "", "properties.external_id"),
        ["blank external_id"] = (f => f["properties"]!["external_id"] = "  ", "properties.external_id"),
        ["unknown property"] = (f => f["properties"]!["fatalities"] = 3, "properties.fatalities"),
        ["misspelt geometry member"] = (f => { f["geometery"] = f["geometry"]!.DeepClone(); f.Remove("geometry"); f["properties"]!["location_name"] = "Homs"; }, "geometery"),
        ["member a Feature does not have"] = (f => f["style"] = new JsonObject { ["color"] = "red" }, "style"),
        ["week precision for a month"] = (f => { f["properties"]!["occurred_at"] = "2016-03"; f["properties"]!["time_precision"] = "week"; }, "properties.time_precision"),
        ["day precision for a month"] = (f => { f["properties"]!["occurred_at"] = "2016-02"; f["properties"]!["time_precision"] = "day"; }, "properties.time_precision"),
        ["exact precision for a date"] = (f => { f["properties"]!["occurred_at"] = "2016-02-21"; f["properties"]!["time_precision"] = "exact"; }, "properties.time_precision"),
        ["not a Feature"] = (f => f["type"] = "FeatureCollection", "type"),
        ["properties not an object"] = (f => f["properties"] = "x", "properties"),
    };

    public static TheoryData<string> RuleNames => new(Rules.Keys);

    private static JsonObject ManyVertices(int count)
    {
        var coordinates = new JsonArray();
        for (var i = 0; i < count; i++) coordinates.Add(new JsonArray(i * 0.0001 % 180, 10.0));
        return new JsonObject { ["type"] = "LineString", ["coordinates"] = coordinates };
    }

    /// <summary>A geometry's own crs (GeoJSON 2008) may name WGS 84 longitude/latitude, as a FeatureCollection's may.</summary>
    [Theory]
    [InlineData("urn:ogc:def:crs:OGC:1.3:CRS84")]
    [InlineData("EPSG:4326")]
    public async Task A_geometry_naming_WGS_84_as_its_crs_is_stored(string name)
    {
        var feature = Features.Valid("Geometry CRS " + Guid.NewGuid());
        feature["geometry"] = JsonNode.Parse("""{"type":"Point","coordinates":[36.5,34.5],"crs":{"type":"name","properties":{"name":"NAME"}}}""".Replace("NAME", name));

        var (response, body) = await _client.PostAsync(feature);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("[36.5,34.5]", body!["geometry"]!["coordinates"]!.ToJsonString());
    }

    [Theory]
    [MemberData(nameof(RuleNames))]
    public async Task Create_refuses_invalid_incident_with_422_naming_the_field(string rule)
    {
        var (breakIt, field) = Rules[rule];
        var title = "Invalid " + Guid.NewGuid();
        var feature = Features.Valid(title);
        breakIt(feature);

        var (response, _) = await _client.PostAsync(feature);

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, field);
        Assert.Equal(0, await api.Database.ScalarAsync<long>("SELECT count(*) FROM incidents WHERE title = @title", new { title }));
    }

    /// <summary>
    /// A geometry the GeoJSON reader cannot read is said in plain words, with where in it: the reader's own
    /// message was passed on ("is not a valid GeoJSON Point: The JSON value could not be converted to
    /// NetTopologySuite.Geometries.Geometry").
    /// </summary>
    [Theory]
    [InlineData("""{"type":"Point","coordinates":[1]}""", "is not a valid GeoJSON Point: coordinates has 1 number; a position is 2 or more numbers: longitude, latitude, then any others (a height, a measure), which are not stored")]
    [InlineData("""{"type":"Point","coordinates":[true,34]}""", "is not a valid GeoJSON Point: coordinates[0] is true, not a number")]
    [InlineData("""{"type":"LineString","coordinates":[[36,34],[1]]}""", "is not a valid GeoJSON LineString: coordinates[1] has 1 number; a position is 2 or more numbers")]
    [InlineData("""{"type":"Polygon","coordinates":[[]]}""", "is not a valid GeoJSON Polygon: coordinates[0] has no positions; a polygon ring needs at least 4")]
    [InlineData("""{"type":"MultiPoint","coordinates":[[]]}""", "is not a valid GeoJSON MultiPoint: coordinates[0] has no numbers; a position is 2 or more numbers")]
    [InlineData("""{"type":"MultiPolygon","coordinates":[[]]}""", "is not a valid GeoJSON MultiPolygon: coordinates[0] has no rings; a polygon needs at least its outer ring")]
    public async Task A_geometry_that_cannot_be_read_is_a_422_saying_what_is_wrong_in_plain_words(string geometry, string detail)
    {
        var title = "Unreadable " + Guid.NewGuid();

        var (response, _) = await _client.PostAsync(Features.Valid(title, JsonNode.Parse(geometry)));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, "geometry");
        Assert.StartsWith(detail, Assert.Single(problem["errors"]!.AsArray())!["detail"]!.GetValue<string>());
        Assert.DoesNotContain("NetTopologySuite", problem.ToJsonString());
        Assert.Equal(0, await api.Database.ScalarAsync<long>("SELECT count(*) FROM incidents WHERE title = @title", new { title }));
    }

    [Theory]
    [InlineData("57.0", 57)]
    [InlineData("1e3", 1000)]
    [InlineData("0", 0)]
    public async Task A_count_written_as_a_whole_float_is_that_number(string json, int expected)
    {
        var feature = Features.Valid();
        feature["properties"]!["fatalities_max"] = JsonNode.Parse(json);

        var id = await _client.CreateAsync(feature);

        Assert.Equal(expected, (await _client.GetJsonAsync($"/collections/incidents/items/{id}"))["properties"]!["fatalities_max"]!.GetValue<int>());
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("cut")]
    public async Task A_compressed_body_that_does_not_decompress_whole_is_a_400_naming_Content_Encoding(string kind)
    {
        var json = System.Text.Encoding.UTF8.GetBytes(Features.Valid().ToJsonString());
        var gzip = new MemoryStream();
        using (var compressor = new System.IO.Compression.GZipStream(gzip, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true)) compressor.Write(json);
        var body = kind == "garbage" ? json : gzip.ToArray()[..^6]; // JSON sent as if gzip; gzip without most of its trailer
        var content = new ByteArrayContent(body) { Headers = { ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/geo+json") } };
        content.Headers.ContentEncoding.Add("gzip");

        var response = await _client.PostAsync("/collections/incidents/items", content);

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "Content-Encoding");
    }

    [Fact]
    public async Task Replace_applies_the_same_rules_as_create()
    {
        var id = await _client.CreateAsync(Features.Valid());
        var feature = Features.Valid();
        feature["properties"]!["country"] = "XX";

        var response = await _client.PutCurrentAsync($"/collections/incidents/items/{id}", Features.Content(feature));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, "properties.country");
    }

    [Theory]
    [InlineData("{\"type\": \"Feature\",")]
    [InlineData("not json")]
    [InlineData("")]
    public async Task Malformed_json_is_a_400_problem(string body)
    {
        var response = await _client.PostAsync("/collections/incidents/items", new StringContent(body, Encoding.UTF8, "application/geo+json"));
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "body");
    }

    [Fact]
    public async Task Wrong_content_type_is_a_415_problem()
    {
        var response = await _client.PostAsync("/collections/incidents/items",
            new StringContent(Features.Valid().ToJsonString(), Encoding.UTF8, "text/plain"));
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "Content-Type");
    }

    [Fact]
    public async Task Body_over_the_size_limit_is_a_413_problem()
    {
        var big = Features.Valid();
        big["properties"]!["summary"] = new string('x', 9 * 1024 * 1024);
        var response = await _client.PostAsync("/collections/incidents/items", Features.Content(big));
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "body");
    }

    [Fact]
    public async Task Unsupported_method_is_a_405_problem()
    {
        var response = await _client.PostAsync("/collections/incidents/items/1", Features.Content(Features.Valid()));
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.MethodNotAllowed);
    }

    [Fact]
    public async Task A_ring_closed_by_minus_zero_is_closed_and_stored_with_zero()
    {
        // Found by fuzzing (seed 3): -0 equals 0, but PostGIS compared the bits and refused the ring.
        var feature = Features.Valid(geometry: Features.Geometry("""{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[-0,0]]]}"""));

        var (response, body) = await _client.PostAsync(feature);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("[0,0]", body!["geometry"]!["coordinates"]![0]![4]!.ToJsonString());
    }

    [Fact]
    public async Task Date_only_and_month_values_imply_their_precision_and_are_truncated()
    {
        var month = Features.Valid(occurredAt: "2016-01");
        var monthBody = (await _client.PostAsync(month)).Body!;
        Assert.Equal("month", monthBody["properties"]!["time_precision"]!.GetValue<string>());
        Assert.Equal(new DateTimeOffset(2016, 1, 1, 0, 0, 0, TimeSpan.Zero),
            DateTimeOffset.Parse(monthBody["properties"]!["occurred_at"]!.GetValue<string>()));

        var day = Features.Valid(occurredAt: "2016-02-21T23:10:00+03:00");
        day["properties"]!["time_precision"] = "day";
        var dayBody = (await _client.PostAsync(day)).Body!;
        Assert.Equal(new DateTimeOffset(2016, 2, 21, 0, 0, 0, TimeSpan.Zero),
            DateTimeOffset.Parse(dayBody["properties"]!["occurred_at"]!.GetValue<string>()));
    }

    [Theory]
    // Early in the day east of Greenwich: still the day before in UTC.
    [InlineData("2016-02-21T01:00:00+03:00", "day", "2016-02-21T00:00:00Z")]
    [InlineData("2016-03-01T01:00:00+03:00", "month", "2016-03-01T00:00:00Z")]
    [InlineData("2016-02-22T01:00:00+03:00", "week", "2016-02-22T00:00:00Z")]   // a Monday
    // Late in the day west of Greenwich: already the next day in UTC.
    [InlineData("2016-02-29T22:00:00-05:00", "day", "2016-02-29T00:00:00Z")]
    [InlineData("2016-02-29T22:00:00-05:00", "month", "2016-02-01T00:00:00Z")]
    // An exact time is the instant, in UTC.
    [InlineData("2016-02-21T01:00:00+03:00", "exact", "2016-02-20T22:00:00Z")]
    public async Task A_day_week_or_month_is_the_one_on_the_calendar_the_time_was_written_in(string occurredAt, string precision, string stored)
    {
        var feature = Features.Valid(occurredAt: occurredAt);
        feature["properties"]!["time_precision"] = precision;
        var (response, body) = await _client.PostAsync(feature);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(DateTimeOffset.Parse(stored), DateTimeOffset.Parse(body!["properties"]!["occurred_at"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Lengths_count_characters_and_external_ids_are_trimmed()
    {
        // 300 emoji are 300 characters (600 UTF-16 units), within the title's 500; PostgreSQL counts alike.
        var feature = Features.Valid(string.Concat(Enumerable.Repeat("😀", 300)));
        feature["properties"]!["actors"] = new JsonArray(string.Concat(Enumerable.Repeat("ح😀", 250)));
        var key = "E-" + Guid.NewGuid().ToString("N");
        feature["properties"]!["external_id"] = $" {key} ";
        var (response, body) = await _client.PostAsync(feature);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(key, body!["properties"]!["external_id"]!.GetValue<string>());

        // So the same key with a space after it is the same key, not a second incident beside it.
        var twin = Features.Valid();
        twin["properties"]!["external_id"] = key + " ";
        var (duplicate, _) = await _client.PostAsync(twin);
        await ProblemAssert.IsProblemAsync(duplicate, HttpStatusCode.Conflict, "properties.external_id");
    }

    [Theory]
    [InlineData("2016-02-21", "2016-02-21")]                                // a date stays a date, not a claimed midnight
    [InlineData("2016-02", "2016-02")]
    [InlineData("2016-02-21T07:30:00.5+01:00", "2016-02-21T06:30:00.5Z")]   // the same instant, fraction kept
    [InlineData("2016-02-21T07:30:00Z", "2016-02-21T07:30:00Z")]
    public async Task A_sources_published_at_keeps_what_it_says(string sent, string stored)
    {
        var feature = Features.Valid();
        feature["properties"]!["sources"] = new JsonArray(new JsonObject { ["publisher"] = "SANA", ["published_at"] = sent });
        var (response, body) = await _client.PostAsync(feature);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(stored, body!["properties"]!["sources"]![0]!["published_at"]!.GetValue<string>());
    }
}
