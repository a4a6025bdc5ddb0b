using System.Net;
using Dapper;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace IncidentMap.Tests.Trust;

/// <summary>The service with a one-second statement timeout (Database:StatementTimeoutSeconds).</summary>
public sealed class ShortStatementsFactory() : ConfiguredFactory(("Database:StatementTimeoutSeconds", "1"));

public sealed class StatementTimeoutTests(ShortStatementsFactory factory) : IClassFixture<ShortStatementsFactory>
{
    [Fact]
    public async Task A_statement_the_timeout_stops_is_a_503_problem_and_changes_nothing()
    {
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-API-Key", factory.Key);
        var id = await client.CreateAsync(Features.Valid("Held by another session"));

        // Another session holds the row, so the write waits on its lock until the timeout stops it.
        await using var other = new NpgsqlConnection(ApiFixture.ConnectionString);
        await other.OpenAsync();
        await using (var tx = await other.BeginTransactionAsync())
        {
            await other.ExecuteAsync("SELECT 1 FROM incidents WHERE id = @id FOR UPDATE", new { id }, tx);

            var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Put, $"/collections/incidents/items/{id}")
            { Content = Features.Content(Features.Valid("Edited")) }.WithIfMatch("\"v1\""));

            var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.ServiceUnavailable);
            Assert.Equal("Query took too long", problem["title"]!.GetValue<string>());
            Assert.NotNull(response.Headers.RetryAfter);
        }

        var stored = await other.QuerySingleAsync<(string Title, int Version)>("SELECT title, version FROM incidents WHERE id = @id", new { id });
        Assert.Equal(("Held by another session", 1), stored);
    }
}

[Collection(ApiCollection.Name)]
public sealed class CommandTimeoutTests(ApiFixture api)
{
    /// <summary>
    /// The driver's own timeout is longer than the statement timeout in every pool, so a slow statement ends as
    /// the database's cancellation (a 503 "Query took too long", never retried), not as a driver timeout, which is
    /// transient: retried three times and counted by the circuit breaker as the database's fault.
    /// </summary>
    [Fact]
    public void Every_pool_waits_longer_than_the_statement_timeout()
    {
        var settings = api.Services.GetRequiredService<IncidentMap.Api.Hosting.Settings>();
        Assert.True(settings.StatementTimeoutSeconds > 0);
        NpgsqlDataSource[] pools =
        [
            api.Services.GetRequiredService<NpgsqlDataSource>(),
            api.Services.GetRequiredKeyedService<NpgsqlDataSource>(IncidentMap.Api.Database.DatabaseServiceCollectionExtensions.ReadsKey),
            api.Services.GetRequiredKeyedService<NpgsqlDataSource>(IncidentMap.Api.Database.DatabaseServiceCollectionExtensions.AdHocReadsKey),
        ];
        foreach (var pool in pools)
            Assert.True(new NpgsqlConnectionStringBuilder(pool.ConnectionString).CommandTimeout > settings.StatementTimeoutSeconds, pool.ConnectionString);
    }
}
