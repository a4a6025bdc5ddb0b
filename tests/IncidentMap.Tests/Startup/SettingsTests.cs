using IncidentMap.Api.Hosting;
using Microsoft.Extensions.Configuration;

namespace IncidentMap.Tests.Startup;

/// <summary>Every setting of README's Configuration table is read and checked once, at startup (<see cref="Settings"/>).</summary>
public sealed class SettingsTests
{
    private static Settings Read(params (string Key, string? Value)[] values) =>
        Settings.From(new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, v.Value))).Build());

    [Fact]
    public void Unset_and_empty_settings_are_the_documented_defaults()
    {
        foreach (var settings in new[] { Read(), Read(("Database:ReadConnections", ""), ("Tiles:Cache", " "), ("Seed:Path", "")) })
        {
            Assert.True(settings.MigrateOnStartup);
            Assert.Equal(30, settings.StatementTimeoutSeconds);
            Assert.Equal(64, settings.MaxAutoPrepare);
            Assert.Equal(Environment.ProcessorCount + 1, settings.ReadConnections);
            Assert.True(settings.TileCache);
            Assert.Null(settings.SeedPath);
            Assert.False(settings.RequireKeyForReads);
            Assert.Equal(1000, settings.UnknownKeysPerMinute);
            Assert.Equal((600, 6000, 4, 2), (settings.RateLimits.AnonymousPerMinute, settings.RateLimits.KeyPerMinute,
                settings.RateLimits.ConcurrentStreams, settings.RateLimits.ConcurrentExports));
            Assert.Empty(settings.KnownProxies);
            Assert.Empty(settings.ForwardedHosts);
            Assert.Equal(["*"], settings.CorsOrigins);
            Assert.Equal(30, settings.FeedRetentionDays);
            Assert.Equal((2, 16L << 30, 2), (settings.Imports.MaxConcurrent, settings.Imports.MaxBytes, settings.Imports.Writers));
            Assert.True(settings.RequireIfMatch);
            Assert.Equal(32, settings.RateLimits.ConcurrentRequests);
            Assert.Equal(0, settings.RateLimits.ConnectionsPerClient);
            Assert.Equal(60, settings.BodySeconds);
        }
    }

    /// <summary>
    /// README: "An empty value is the default", list items too (Cors__AllowedOrigins__0= from a template
    /// whose variable is unset): the empty item is not set. It stopped the service as an origin, a proxy
    /// or a host that is not one.
    /// </summary>
    [Fact]
    public void An_empty_list_item_is_not_set()
    {
        var empty = Read(("Cors:AllowedOrigins:0", ""), ("ForwardedHeaders:KnownProxies:0", " "), ("ForwardedHeaders:AllowedHosts:0", ""));
        Assert.Equal(["*"], empty.CorsOrigins);
        Assert.Empty(empty.KnownProxies);
        Assert.Empty(empty.KnownProxyNetworks);
        Assert.Empty(empty.ForwardedHosts);

        var one = Read(("Cors:AllowedOrigins:0", "https://newsroom.example"), ("Cors:AllowedOrigins:1", ""),
            ("ForwardedHeaders:KnownProxies:0", ""), ("ForwardedHeaders:KnownProxies:1", "10.0.0.0/8"), ("ForwardedHeaders:AllowedHosts:0", "maps.example.org"), ("ForwardedHeaders:AllowedHosts:1", " "));
        Assert.Equal(["https://newsroom.example"], one.CorsOrigins);
        Assert.Single(one.KnownProxyNetworks);
        Assert.Equal(["maps.example.org"], one.ForwardedHosts);
    }

    [Theory]
    [InlineData("Database:ReadConnections", "abc")]
    [InlineData("Database:ReadConnections", "-3")]
    [InlineData("Database:ReadConnections", "0")]
    [InlineData("Database:MaxAutoPrepare", "-1")]
    [InlineData("Database:StatementTimeoutSeconds", "3000000")]
    [InlineData("Database:StatementTimeoutSeconds", "-1")]
    [InlineData("Database:MigrateOnStartup", "yes")]
    [InlineData("Tiles:Cache", "maybe")]
    [InlineData("Auth:RequireKeyForReads", "1")]
    [InlineData("Auth:UnknownKeysPerMinute", "abc")]
    [InlineData("Auth:UnknownKeysPerMinute", "0")]
    [InlineData("Writes:RequireIfMatch", "nope")]
    [InlineData("Imports:MaxBytes", "-1")]
    [InlineData("Imports:MaxBytes", "16GiB")]
    [InlineData("Imports:MaxConcurrent", "0")]
    [InlineData("Imports:Writers", "-2")]
    [InlineData("Feed:RetentionDays", "0")]
    [InlineData("Feed:RetentionDays", "-30")]
    [InlineData("RateLimits:AnonymousPerMinute", "0")]
    [InlineData("RateLimits:KeyPerMinute", "-5")]
    [InlineData("RateLimits:ConcurrentStreams", "0")]
    [InlineData("RateLimits:ConcurrentExports", "1.5")]
    [InlineData("RateLimits:ConcurrentRequests", "0")]
    [InlineData("RateLimits:ConnectionsPerClient", "-1")]
    [InlineData("RateLimits:ConnectionsPerClient", "all")]
    [InlineData("Requests:BodySeconds", "0")]
    [InlineData("Cors:AllowedOrigins:0", "https://example.org/")]
    [InlineData("Cors:AllowedOrigins:0", "https://example.org/app")]
    [InlineData("Cors:AllowedOrigins:0", "https://a.example,https://b.example")]
    [InlineData("Cors:AllowedOrigins:0", "example.org")]
    [InlineData("Cors:AllowedOrigins:0", "https://example.org:443")]
    [InlineData("Cors:AllowedOrigins", "https://example.org")]
    [InlineData("ForwardedHeaders:KnownProxies:0", "proxy.internal")]
    [InlineData("ForwardedHeaders:AllowedHosts:0", "maps.example.org")] // without a known proxy it would do nothing
    [InlineData("Urls", "garbage")]
    [InlineData("Urls", "http://localhost:8080/app")]
    [InlineData("Seed:Path", "/nonexistent/incidents.geojson")]
    [InlineData("Gazetteer:Path", "/nonexistent")]
    [InlineData("PORT", "http")]
    [InlineData("Logging:LogLevel:Default", "verbose")] // "Configuration value 'verbose' is not supported", naming no setting
    [InlineData("Logging:Console:LogLevel:Microsoft.AspNetCore", "loud")]
    public void A_bad_value_is_refused_naming_the_setting_and_the_value(string key, string value)
    {
        var error = Assert.Throws<SettingsException>(() => Read((key, value)));

        // Urls is also set by ASP.NET Core's ASPNETCORE_URLS: both are named.
        var environment = key == "Urls" ? "Urls or ASPNETCORE_URLS" : key.Replace(":", "__");
        Assert.Contains($"setting {key} (environment {environment}) is '{value}'", error.Message);
        Assert.Contains("must", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Theory]
    [InlineData("https://maps.example.org")]
    [InlineData("maps.example.org:443")]
    [InlineData("maps.example.org/maps")]
    [InlineData("*.example.org:8443")]
    [InlineData("*example.org")]
    [InlineData("[::1]:8443")]
    [InlineData("2001:db8::1")]
    public void A_forwarded_host_with_a_scheme_port_or_path_is_refused(string host)
    {
        var error = Assert.Throws<SettingsException>(() => Read(("ForwardedHeaders:KnownProxies:0", "10.0.0.1"), ("ForwardedHeaders:AllowedHosts:0", host)));

        Assert.Contains($"setting ForwardedHeaders:AllowedHosts:0 (environment ForwardedHeaders__AllowedHosts__0) is '{host}'", error.Message);
        Assert.Contains("without scheme, port or path", error.Message);
    }

    [Fact]
    public void The_message_says_what_is_allowed()
    {
        Assert.Contains("a whole number from 1 to 1024", Assert.Throws<SettingsException>(() => Read(("Database:ReadConnections", "abc"))).Message);
        Assert.Contains("true or false", Assert.Throws<SettingsException>(() => Read(("Tiles:Cache", "maybe"))).Message);
        Assert.Contains("from 1 to 36500", Assert.Throws<SettingsException>(() => Read(("Feed:RetentionDays", "-1"))).Message);
    }

    [Fact]
    public void Every_bad_setting_is_named_at_once()
    {
        var error = Assert.Throws<SettingsException>(() => Read(("Tiles:Cache", "maybe"), ("Feed:RetentionDays", "0")));

        Assert.Contains("Tiles:Cache", error.Message);
        Assert.Contains("Feed:RetentionDays", error.Message);
    }

    [Fact]
    public void A_connection_string_that_does_not_parse_is_refused_without_repeating_it()
    {
        var error = Assert.Throws<SettingsException>(() => Read(("ConnectionStrings:Incidents", "x")));
        Assert.Contains("ConnectionStrings:Incidents", error.Message);
        Assert.DoesNotContain("'x'", error.Message);

        // It holds the password: never in a message.
        var secret = Assert.Throws<SettingsException>(() => Read(("ConnectionStrings:Incidents", "Host=db;Password=hunter2;Port=abc")));
        Assert.DoesNotContain("hunter2", secret.Message);
    }

    [Fact]
    public void Good_values_are_taken()
    {
        var settings = Read(
            ("Cors:AllowedOrigins:0", "https://Newsroom.example"), ("Cors:AllowedOrigins:1", "http://localhost:3000"),
            ("ForwardedHeaders:KnownProxies:0", "10.0.0.1"), ("ForwardedHeaders:KnownProxies:1", "10.1.0.0/16"),
            ("ForwardedHeaders:AllowedHosts:0", "Maps.Example.org"), ("ForwardedHeaders:AllowedHosts:1", "*.example.net"),
            ("ForwardedHeaders:AllowedHosts:2", "[2001:db8::1]"), ("ForwardedHeaders:AllowedHosts:3", "192.0.2.10"),
            ("Database:StatementTimeoutSeconds", "0"), ("Database:MaxAutoPrepare", "0"), ("Tiles:Cache", "False"),
            ("Feed:RetentionDays", "365"), ("Imports:MaxBytes", "2000"), ("Urls", "http://+:8080;https://localhost:8443"),
            ("RateLimits:ConnectionsPerClient", "1024"));

        Assert.Equal(["https://newsroom.example", "http://localhost:3000"], settings.CorsOrigins);
        Assert.False(settings.AnyOrigin);
        Assert.Single(settings.KnownProxies);
        Assert.Single(settings.KnownProxyNetworks);
        Assert.Equal(["maps.example.org", "*.example.net", "[2001:db8::1]", "192.0.2.10"], settings.ForwardedHosts);
        Assert.Equal(0, settings.StatementTimeoutSeconds);
        Assert.False(settings.TileCache);
        Assert.Equal(365, settings.FeedRetentionDays);
        Assert.Equal(2000, settings.Imports.MaxBytes);
        Assert.Equal(1024, settings.RateLimits.ConnectionsPerClient);
    }
}
