using System.Net;
using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Dapper;
using IncidentMap.Api.Database;
using IncidentMap.Api.Incidents;
using IncidentMap.Api.OpenApi;
using IncidentMap.Api.Seeding;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace IncidentMap.Tests.Platform;

[Collection(ApiCollection.Name)]
public sealed class PlatformTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task Committed_openapi_document_matches_what_the_code_generates()
    {
        var generated = OpenApiSetup.Render(api.Services);
        var path = Path.Combine(ApiFixture.RepositoryRoot(), "openapi", "openapi.json");
        if (Environment.GetEnvironmentVariable("UPDATE_OPENAPI") == "1") await File.WriteAllTextAsync(path, generated);

        var committed = File.Exists(path) ? await File.ReadAllTextAsync(path) : "";
        Assert.True(committed == generated,
            "openapi/openapi.json is stale: regenerate it with `UPDATE_OPENAPI=1 ./test.sh --filter Committed_openapi` and commit it.");

        var served = await _client.GetStringAsync("/openapi/v1.json");
        Assert.Equal(JsonNode.Parse(generated)!["paths"]!.ToJsonString(), JsonNode.Parse(served)!["paths"]!.ToJsonString());
        Assert.StartsWith("3.0", JsonNode.Parse(served)!["openapi"]!.GetValue<string>());
    }

    [Fact]
    public void Openapi_operations_have_unique_ids_declare_their_path_parameters_and_say_what_they_return()
    {
        var document = JsonNode.Parse(OpenApiSetup.Render(api.Services))!;
        var ids = new List<string>();
        foreach (var (path, item) in document["paths"]!.AsObject())
        {
            foreach (var (method, operation) in item!.AsObject())
            {
                ids.Add(operation!["operationId"]!.GetValue<string>());
                var declared = operation["parameters"]?.AsArray().Where(p => p!["in"]?.GetValue<string>() == "path").Select(p => p!["name"]!.GetValue<string>()).ToList() ?? [];
                foreach (System.Text.RegularExpressions.Match segment in System.Text.RegularExpressions.Regex.Matches(path, @"\{([^}]+)\}"))
                    Assert.True(declared.Contains(segment.Groups[1].Value), $"{method} {path} does not declare {segment.Groups[1].Value}");
                if (method == "get" && operation["responses"]!["200"] is { } ok)
                    Assert.True(ok["content"] is not null, $"GET {path}: its 200 says no content type");
                // A read answers 401 to a key that is unknown or revoked, a write to a missing one too.
                if (method is "get" or "head" or "post" or "put" or "patch" or "delete")
                    Assert.True(operation["responses"]!["401"] is not null, $"{method} {path} does not declare its 401");
            }
        }
        Assert.Empty(ids.GroupBy(i => i).Where(g => g.Count() > 1).Select(g => g.Key));
    }

    [Theory]
    [InlineData("/collections/incidents/tiles/WebMercatorQuad/3/1/1?limit=1", "limit")]
    [InlineData("/collections/incidents/tiles/WebMercatorQuad/tilejson.json?sortby=title", "sortby")]
    [InlineData("/collections/incidents/clusters?zoom=3&f=csv", "f")]
    [InlineData("/collections/incidents/hexbins?bbox=35,33,36,34&size=5000&cursor=abc", "cursor")]
    [InlineData("/collections/incidents/stats?count=true", "count")]
    [InlineData("/collections/incidents/stats/summary?properties=title", "properties")]
    [InlineData("/collections/incidents/changes?sortby=title", "sortby")]
    public async Task Page_and_format_parameters_are_refused_where_they_mean_nothing(string url, string parameter)
    {
        // They used to be accepted and ignored (f=csv on clusters answered GeoJSON); the document no longer offers them there.
        await ProblemAssert.IsProblemAsync(await _client.GetAsync(url), HttpStatusCode.BadRequest, parameter);
    }

    [Theory]
    [InlineData("/collections/incidents/clusters?zoom=3&precision=3")]
    [InlineData("/collections/incidents/changes?properties=title&precision=3&limit=5")]
    [InlineData("/collections/incidents/stats?f=csv&interval=month&datetime=2016-01/2016-03")]
    public async Task Parameters_an_endpoint_uses_are_still_taken(string url)
    {
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync(url)).StatusCode);
    }

    [Fact]
    public async Task Openapi_describes_geometry_as_geojson_not_as_netTopologySuite_classes()
    {
        var document = JsonNode.Parse(OpenApiSetup.Render(api.Services))!;
        var schemas = document["components"]!["schemas"]!.AsObject();
        Assert.DoesNotContain(schemas, s => s.Key is "Coordinate" or "Envelope" or "PrecisionModel" or "Geometry");
        var geometry = schemas["GeoJsonGeometry"]!;
        var types = geometry["oneOf"]!.AsArray().Select(o => o!["properties"]!["type"]!["enum"]![0]!.GetValue<string>());
        Assert.Equal(["Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon"], types);
    }

    [Fact]
    public async Task Swagger_ui_answers()
    {
        var response = await _client.GetAsync("/swagger/index.html");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Health_endpoints_report_live_and_ready_with_postgis_and_migrations()
    {
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/health/live")).StatusCode);
        var ready = await _client.GetJsonAsync("/health/ready");
        Assert.Equal("Healthy", ready["status"]!.GetValue<string>());
        Assert.StartsWith("3.", ready["checks"]!["database"]!["data"]!["postgis"]!.GetValue<string>());
        Assert.Equal(Migrator.LatestVersion, ready["checks"]!["database"]!["data"]!["migration"]!.GetValue<string>());
    }

    [Fact]
    public async Task Feature_properties_from_sql_match_the_documented_contract_and_the_input_reader()
    {
        var id = await _client.CreateAsync(Features.Valid());
        var feature = await _client.GetJsonAsync($"/collections/incidents/items/{id}");

        var returned = feature["properties"]!.AsObject().Select(p => p.Key).ToList();
        var documented = typeof(IncidentPropertiesDoc).GetProperties()
            .Select(p => p.GetCustomAttribute<JsonPropertyNameAttribute>()!.Name).ToList();
        // distance_m only where the query has a point, last: a radius search returns every documented property.
        Assert.Equal(documented.Where(name => name != "distance_m"), returned);
        var tag = "t-" + Guid.NewGuid().ToString("N");
        var tagged = Features.Valid();
        tagged["properties"]!["tags"] = new JsonArray(tag);
        await _client.CreateAsync(tagged);
        var near = await _client.GetJsonAsync($"/collections/incidents/items?tags={tag}&lat=34.7197&lon=36.7236&radius=1km");
        Assert.Equal(documented, near["features"]!.AsArray().Single()!["properties"]!.AsObject().Select(p => p.Key));

        // Every returned property can be sent back unchanged (GET, edit, PUT).
        var put = await _client.PutCurrentAsync($"/collections/incidents/items/{id}", Features.Content(feature));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
    }

    [Theory]
    [InlineData("event_type", typeof(EventType))]
    [InlineData("time_precision", typeof(TimePrecision))]
    [InlineData("geo_precision", typeof(GeoPrecision))]
    [InlineData("status", typeof(IncidentStatus))]
    public async Task Database_check_constraints_allow_exactly_the_api_vocabulary(string column, Type vocabulary)
    {
        await using var connection = await api.Database.OpenConnectionAsync();
        var definition = await connection.ExecuteScalarAsync<string>("""
            SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
            WHERE c.conrelid = 'incidents'::regclass AND c.contype = 'c'
              AND pg_get_constraintdef(c.oid) LIKE '%(' || @column || ' = ANY%'
            """, new { column });
        var allowed = System.Text.RegularExpressions.Regex.Matches(definition!, "'([a-z_]+)'::text").Select(m => m.Groups[1].Value);
        Assert.Equal(Enum.GetNames(vocabulary).Order(), allowed.Order());
    }

    [Fact]
    public async Task Sample_data_holds_the_reference_story_and_loads_twice_without_duplicates()
    {
        var path = Path.Combine(ApiFixture.RepositoryRoot(), "db", "sample", "incidents.geojson");
        var expected = JsonNode.Parse(await File.ReadAllTextAsync(path))!["features"]!.AsArray().Count;
        var loader = api.Services.GetRequiredService<SampleData>();

        await loader.LoadAsync(path);
        var second = await loader.LoadAsync(path);

        Assert.Equal(0, second.Created);
        Assert.Equal(expected, second.Skipped);
        await using var connection = await api.Database.OpenConnectionAsync();
        var stored = await connection.ExecuteScalarAsync<int>(
            "SELECT count(*) FROM incidents WHERE external_id LIKE 'sample:%' AND deleted_at IS NULL");
        Assert.Equal(expected, stored);

        var homs = await connection.QuerySingleAsync<(int? Min, int? Max, string ClaimedBy, double Lon, double Lat, DateTime At)>("""
            SELECT fatalities_min, fatalities_max, claimed_by, ST_X(geom), ST_Y(geom), occurred_at FROM incidents
            WHERE external_id = 'sample:homs-2016-02-21-double-bombing' AND deleted_at IS NULL
            """);
        Assert.Equal((null, 60, "Islamic State"), (homs.Min, homs.Max, homs.ClaimedBy));
        Assert.Equal(new DateTime(2016, 2, 21), homs.At.Date);
        Assert.InRange(homs.Lon, 36.6, 36.8);
        Assert.InRange(homs.Lat, 34.6, 34.8);

        var zeinab = await connection.QueryAsync<(int? Min, int? Max, string Precision, DateTime At)>("""
            SELECT fatalities_min, fatalities_max, time_precision, occurred_at FROM incidents
            WHERE external_id LIKE 'sample:%' AND deleted_at IS NULL AND ST_DWithin(geog, ST_MakePoint(36.34, 33.44)::geography, 5000)
              AND occurred_at < '2016-03-01'
            ORDER BY occurred_at
            """);
        Assert.Contains(zeinab, z => z is { Min: 50, Max: null, Precision: "exact" } && z.At.Date == new DateTime(2016, 2, 21));
        Assert.Contains(zeinab, z => z.Precision == "month" && z.At == new DateTime(2016, 1, 1));
    }
}

/// <summary>Migrations against a database of their own, created and dropped by each test.</summary>
public sealed class MigrationTests : IAsyncLifetime
{
    private OwnDatabase _database = null!;

    private NpgsqlDataSource DataSource => _database.DataSource;

    public async Task InitializeAsync() => _database = await OwnDatabase.CreateAsync("mig");

    public async Task DisposeAsync() => await _database.DisposeAsync();

    private Migrator NewMigrator() => new(DataSource, NullLogger<Migrator>.Instance);

    [Fact]
    public async Task Two_instances_migrating_at_once_apply_each_migration_exactly_once()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => NewMigrator().MigrateAsync()));

        Assert.Equal(Migrator.Embedded.Count, results.Sum());
        await using var connection = await DataSource.OpenConnectionAsync();
        var versions = (await connection.QueryAsync<string>("SELECT version FROM schema_migrations ORDER BY version")).ToList();
        Assert.Equal(Migrator.Embedded.Select(m => m.Version), versions);
        Assert.Equal(0, await NewMigrator().MigrateAsync());
    }

    [Fact]
    public async Task A_failing_migration_leaves_the_schema_as_it_was()
    {
        await NewMigrator().MigrateAsync();
        var failing = new Migrator.Migration("9999", "9999_broken",
            "CREATE TABLE half_done (id int); ALTER TABLE incidents ADD COLUMN oops int; SELECT 1/0;", "test");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            NewMigrator().MigrateAsync([.. Migrator.Embedded, failing]));

        Assert.Contains("9999_broken", error.Message);
        await using var connection = await DataSource.OpenConnectionAsync();
        Assert.Null(await connection.ExecuteScalarAsync<string?>("SELECT to_regclass('half_done')::text"));
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'incidents' AND column_name = 'oops'"));
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM schema_migrations WHERE version = '9999'"));
    }

    [Fact]
    public async Task Accent_insensitive_search_migration_recomputes_existing_rows_without_new_versions_or_feed_entries()
    {
        const string version = "0022";
        await NewMigrator().MigrateAsync(Migrator.Embedded.Where(m => string.CompareOrdinal(m.Version, version) < 0).ToList());
        await using var connection = await DataSource.OpenConnectionAsync();
        var id = await connection.ExecuteScalarAsync<long>("""
            INSERT INTO incidents (title, summary, event_type, occurred_at, actors, geom)
            VALUES ('Émeute à Alep', 'Bombings in Bogotá', 'riots', '2016-02-21T07:30:00Z', '{Sayyída Zaynāb}',
                    ST_SetSRID(ST_MakePoint(37.16, 36.2), 4326))
            RETURNING id
            """);
        const string state = """
            SELECT i.version, i.updated_at,
                   (SELECT count(*) FROM incident_changes c WHERE c.incident_id = i.id) AS changes,
                   (SELECT count(*) FROM incident_revisions r WHERE r.incident_id = i.id) AS revisions
            FROM incidents i WHERE i.id = @id
            """;
        var before = await connection.QuerySingleAsync<(int Version, DateTime UpdatedAt, long Changes, long Revisions)>(state, new { id });

        await NewMigrator().MigrateAsync();

        // The stored document is the one the function now computes: accents gone, words still stemmed.
        Assert.True(await connection.ExecuteScalarAsync<bool>("""
            SELECT search @@ 'emeut & alep & sayyida & zaynab & bogota & bomb'::tsquery
               AND search = incident_search_document(title, summary, location_name, admin1, admin2, admin3, actors, claimed_by)
            FROM incidents WHERE id = @id
            """, new { id }));
        // Rewritten, not updated: no trigger fired, so no new version, feed entry or revision.
        Assert.Equal(before, await connection.QuerySingleAsync<(int, DateTime, long, long)>(state, new { id }));
        // Still a stored generated column, with its partial GIN index.
        Assert.Equal("s", await connection.ExecuteScalarAsync<string>(
            "SELECT attgenerated::text FROM pg_attribute WHERE attrelid = 'incidents'::regclass AND attname = 'search'"));
        Assert.Equal("CREATE INDEX incidents_search_idx ON public.incidents USING gin (search) WHERE (deleted_at IS NULL)",
            await connection.ExecuteScalarAsync<string>("SELECT pg_get_indexdef('incidents_search_idx'::regclass)"));
    }
}
