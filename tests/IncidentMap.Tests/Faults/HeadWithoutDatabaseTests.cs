using System.Net;
using IncidentMap.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace IncidentMap.Tests.Faults;

/// <summary>
/// RFC 9110 §9.3.2: a HEAD is answered as its GET, status included. With the database unreachable (a closed port:
/// nothing is stopped, so this runs beside the other tests), the reads that answered HEAD from the data version
/// alone said 200, with an ETag, where the GET of the same URL was a 503.
/// </summary>
public sealed class HeadWithoutDatabaseTests : IClassFixture<HeadWithoutDatabaseTests.Service>
{
    private readonly Service _service;

    public HeadWithoutDatabaseTests(Service service) => _service = service;

    /// <summary>The service against a port nothing listens on: it starts (no migration, no gazetteer) and every query fails.</summary>
    public sealed class Service : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            ApiFixture.Configure(builder);
            var nowhere = $"Host=127.0.0.1;Port={ServiceProcess.FreePort()};Username=u;Password=p;Database=d;Timeout=2";
            builder.UseSetting("ConnectionStrings:Incidents", nowhere);
            builder.UseSetting("ConnectionStrings:Migrations", nowhere);
            builder.UseSetting("Database:MigrateOnStartup", "false");
            builder.UseSetting("Gazetteer:Path", "");
        }
    }

    [Theory]
    [InlineData("/collections/incidents/items?limit=1")]
    [InlineData("/collections/incidents/items?limit=1&f=csv")]
    [InlineData("/collections/incidents/items?limit=5000")]
    [InlineData("/collections/incidents/items")]
    [InlineData("/collections/places/items?q=Homs")]
    [InlineData("/collections/places/items")]
    [InlineData("/collections/incidents/stats?interval=month&datetime=2016-01-01T00:00:00Z/2016-12-31T23:59:59Z")]
    [InlineData("/collections/incidents/stats/summary")]
    public async Task A_head_while_the_database_is_unreachable_answers_the_gets_status_not_200(string url)
    {
        using var client = _service.CreateClient();

        using var get = await client.GetAsync(url);
        using var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, url));

        Assert.True(get.StatusCode >= HttpStatusCode.InternalServerError, $"GET {url}: {(int)get.StatusCode}");
        Assert.Equal(get.StatusCode, head.StatusCode);
        Assert.Equal(get.Headers.RetryAfter?.ToString(), head.Headers.RetryAfter?.ToString());
        Assert.False(head.Headers.ETag is not null, $"HEAD {url} sent an ETag for data it never read: {head.Headers.ETag}");
    }
}
