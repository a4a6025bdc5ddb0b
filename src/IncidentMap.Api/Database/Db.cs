using System.Data;
using Dapper;
using IncidentMap.Api.Hosting;
using NetTopologySuite.Geometries;
using Npgsql;
using NpgsqlTypes;

namespace IncidentMap.Api.Database;

public static class DatabaseServiceCollectionExtensions
{
    /// <summary>
    /// One NpgsqlDataSource for the whole process, with PostGIS geometry mapped to NetTopologySuite.
    /// The connection string and pool settings come from <see cref="Settings"/> (ConnectionStrings:Incidents, Database:…).
    /// </summary>
    public static IServiceCollection AddIncidentDatabase(this IServiceCollection services, Settings settings)
    {
        GeometryTypeHandler.Register();

        // The main pool prepares nothing: its statements are writes, lookups and exports, where planning
        // is a small share, and an auto-prepared statement that fails at Bind corrupts its connection
        // (npgsql/npgsql#6391; see IncidentReader.ForgetPreparedAsync, the guard of the two read pools, which prepare).
        services.AddSingleton(sp => Build(sp, settings, reads: false, genericPlans: false));
        services.AddKeyedSingleton(ReadsKey, (sp, _) => Build(sp, settings, reads: true, genericPlans: true));
        services.AddKeyedSingleton(AdHocReadsKey, (sp, _) => Build(sp, settings, reads: true, genericPlans: false));
        // Migrations run as their own login when ConnectionStrings:Migrations names one, else as the service.
        services.AddKeyedSingleton(MigrationsKey, (sp, _) => settings.MigrationsConnectionString is { } migrations
            ? BuildMigrations(sp, migrations)
            : sp.GetRequiredService<NpgsqlDataSource>());
        services.AddSingleton<DatabaseResilience>();
        return services;
    }

    /// <summary>The key of the pool of short reads whose plan does not depend on their parameters (tiles, radius pages, the feed).</summary>
    public const string ReadsKey = "reads";

    /// <summary>
    /// The key of the pool of other short reads. Left to choose, PostgreSQL soon runs a prepared statement
    /// on a generic plan, made without the parameters' values; for a bbox page that plan reads the whole
    /// box and sorts it where the values would have chosen the time index (228 ms instead of 70). This
    /// pool's statements are prepared (their text is parsed once) but planned for each run's own values
    /// (plan_cache_mode=force_custom_plan), as unprepared statements are.
    /// </summary>
    public const string AdHocReadsKey = "adhoc-reads";

    /// <summary>
    /// The key of the data source migrations run on: the login of ConnectionStrings:Migrations (one that
    /// owns the schema), or the service's own data source when that is not set.
    /// </summary>
    public const string MigrationsKey = "migrations";

    /// <summary>
    /// The migrating login's data source. Not the service's statement timeout (a migration sets its
    /// own, none), nothing prepared: it runs each statement once.
    /// </summary>
    private static NpgsqlDataSource BuildMigrations(IServiceProvider sp, string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            Timezone = "UTC",
            ApplicationName = "incidentmap-migrations",
            MaxAutoPrepare = 0,
        };
        return DataSource(sp, builder.ConnectionString);
    }

    /// <summary>A data source of <paramref name="connectionString"/> that knows PostGIS's types and logs as the service does.</summary>
    private static NpgsqlDataSource DataSource(IServiceProvider sp, string connectionString)
    {
        var dataSourceBuilder = new NpgsqlDataSourceBuilder(connectionString);
        dataSourceBuilder.UseNetTopologySuite();
        dataSourceBuilder.UseLoggerFactory(sp.GetRequiredService<ILoggerFactory>());
        return dataSourceBuilder.Build();
    }

    /// <summary>
    /// The service's data source, or the pool of read-only sessions (<paramref name="reads"/>): their
    /// statements change no session state (only SET LOCAL inside transactions, no temp tables or
    /// LISTEN), so they skip the reset Npgsql otherwise runs when a pooled connection is reused, a
    /// round of work in every tile or page request. Both read pools prepare what they repeat; <paramref name="genericPlans"/>
    /// picks whether a prepared statement runs one plan for every value or is planned for each run's.
    /// </summary>
    private static NpgsqlDataSource Build(IServiceProvider sp, Settings settings, bool reads, bool genericPlans)
    {
        // Checked when the database is first needed: some commands (openapi, help) need none.
        var connectionString = settings.ConnectionString ?? throw new InvalidOperationException(
            "ConnectionStrings:Incidents is not set (environment variable ConnectionStrings__Incidents).");
        // Database:StatementTimeoutSeconds bounds every statement, so a runaway query cannot pin a connection.
        var timeout = settings.StatementTimeoutSeconds;
        var maxAutoPrepare = settings.MaxAutoPrepare;
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            Timezone = "UTC",
            // Npgsql sends these as startup parameters: every session is bounded without a round-trip.
            // No JIT: it pays off only for long analytic scans, and compiling a big filter's expressions
            // cost more than it saved (a 300-term OR over 1M incidents: 4.9 s with JIT, 0.6 s of it
            // compiling, 3.75 s without; tiles, stats and hexbins the same either way).
            Options = $"-c statement_timeout={timeout * 1000} -c jit=off",
            ApplicationName = reads ? (genericPlans ? "incidentmap-reads" : "incidentmap-adhoc-reads") : "incidentmap",
            // The read pools prepare the statements this service repeats (tiles, pages, the feed): parsing and
            // planning are a large share of a small query's cost.
            MaxAutoPrepare = reads ? maxAutoPrepare : 0,
            AutoPrepareMinUsages = 2,
            // The driver waits a little longer than the database's own limit, so that the limit speaks first: a
            // cancelled statement (57014, "Query took too long"). Both at 30 s, the driver's timer, started first,
            // often won, and its timeout is a transient fault: a slow read was retried three times (two minutes of
            // a core for one request with 50,000 tags) and answered "Database unavailable", and the breaker counted
            // a client's slow query as the database's fault. Without a statement timeout, none here either.
            CommandTimeout = timeout == 0 ? 0 : (int)Math.Min(timeout + 10L, int.MaxValue / 1000),
        };
        if (reads)
        {
            // The prepared pool's statements are there because one plan suits all their values; left to choose,
            // PostgreSQL keeps re-planning some of them (a radius merge: 0.6 ms of planning on 0.5 ms of work).
            // The ad-hoc pool's are planned for each run's own values, as unprepared statements are; prepared, they
            // skip parsing their text again (a cluster tile's: 0.3 ms).
            builder.Options += genericPlans ? " -c plan_cache_mode=force_generic_plan" : " -c plan_cache_mode=force_custom_plan";
            builder.NoResetOnClose = true;
            // As many reads in flight as the database can run at once; more only queue inside PostgreSQL,
            // where they share the CPUs unfairly (a 16-client p99 of 100+ ms instead of under 40).
            builder.MaxPoolSize = settings.ReadConnections;
            // Npgsql hands out its idle connections first in, first out, so one client's requests went round every
            // connection the pool had opened under load: each request met a backend that had slept the longest,
            // its caches cold. Npgsql counts the idle connections every second and, every 10 counts, closes as many
            // as their median, down to the minimum of one: after a burst a single client's requests meet the same
            // warm backend, and a z14 tile at one client went from 1,050-1,300 to 1,470 a second, about what a pool
            // of one gives (docs/query-performance.md, "The floor under a short request"). The one kept open is
            // never closed for idling, so a client that reads now and then (a dashboard's poll) finds it warm and
            // its statements still prepared; a pool whose connections are busy at most counts closes none.
            builder.ConnectionIdleLifetime = 10;
            builder.ConnectionPruningInterval = 1;
            builder.MinPoolSize = 1;
        }
        return DataSource(sp, builder.ConnectionString);
    }
}

/// <summary>
/// Dapper treats any IEnumerable parameter as a list to expand into (@p1, @p2 …); NTS collections
/// (MultiPoint, GeometryCollection …) are IEnumerable, so every geometry type gets an explicit handler.
/// </summary>
internal sealed class GeometryTypeHandler : SqlMapper.ITypeHandler
{
    private static int _registered;

    public static void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 1) return;
        var handler = new GeometryTypeHandler();
        foreach (var type in new[]
                 {
                     typeof(Geometry), typeof(Point), typeof(LineString), typeof(LinearRing), typeof(Polygon),
                     typeof(MultiPoint), typeof(MultiLineString), typeof(MultiPolygon), typeof(GeometryCollection),
                 })
        {
            SqlMapper.AddTypeHandler(type, handler);
        }
        SqlMapper.AddTypeHandler(new GeographyTypeHandler());
    }

    public void SetValue(IDbDataParameter parameter, object value)
    {
        parameter.Value = value;
        if (parameter is NpgsqlParameter npgsql) npgsql.NpgsqlDbType = NpgsqlDbType.Geometry;
    }

    public object? Parse(Type destinationType, object value) => value is DBNull ? null : value;
}

/// <summary>
/// A geometry sent as PostGIS geography. A cast in the SQL (<c>@point::geography</c>) is evaluated
/// again for every row in a prepared (generic) plan; a parameter of the right type is not.
/// </summary>
public sealed record GeographyValue(Geometry Geometry);

internal sealed class GeographyTypeHandler : SqlMapper.TypeHandler<GeographyValue>
{
    public override void SetValue(IDbDataParameter parameter, GeographyValue? value)
    {
        parameter.Value = value is null ? DBNull.Value : value.Geometry;
        if (parameter is NpgsqlParameter npgsql) npgsql.NpgsqlDbType = NpgsqlDbType.Geography;
    }

    public override GeographyValue Parse(object value) => throw new NotSupportedException("geography parameters are written, not read");
}
