using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Npgsql;

namespace IncidentMap.Api.Database;

/// <summary>
/// Applies db/migrations/*.sql (embedded in the assembly) in name order. Each migration runs in its
/// own transaction together with its history row, so a failing one leaves the schema as it was.
/// A session advisory lock serialises instances that start at the same time.
/// </summary>
/// <param name="dataSource">The login that migrates: it owns the schema (ConnectionStrings:Migrations, else the service's).</param>
/// <param name="appRole">
/// The service's own role, when it is not the migrating login (Database:AppRole): after migrating, and
/// every time, it is granted what the service does at run time on every object of the migrations
/// (<see cref="GrantAsync"/>), so a table a later migration adds is usable at once. Null grants nothing.
/// </param>
/// <param name="serviceDataSource">The service's data source, when it is another login's: it learns the types migrations created.</param>
public sealed class Migrator(NpgsqlDataSource dataSource, ILogger<Migrator> logger, string? appRole = null, NpgsqlDataSource? serviceDataSource = null)
{
    // Arbitrary constant shared by every IncidentMap instance: "IncMap01".
    private const long AdvisoryLockKey = 0x496E634D61703031;

    public sealed record Migration(string Version, string Name, string Sql, string Checksum);

    public static IReadOnlyList<Migration> Embedded { get; } = LoadEmbedded();

    public static string LatestVersion => Embedded[^1].Version;

    private static List<Migration> LoadEmbedded()
    {
        var assembly = typeof(Migrator).Assembly;
        return assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith("migrations/", StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(n =>
            {
                using var stream = assembly.GetManifestResourceStream(n)!;
                using var reader = new StreamReader(stream, Encoding.UTF8);
                var sql = reader.ReadToEnd();
                var file = n["migrations/".Length..^".sql".Length];
                var split = file.IndexOf('_');
                var version = split > 0 ? file[..split] : file;
                var checksum = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sql.ReplaceLineEndings("\n"))));
                return new Migration(version, file, sql, checksum);
            })
            .ToList();
    }

    public async Task<int> MigrateAsync(CancellationToken ct = default) => await MigrateAsync(Embedded, ct);

    /// <summary>The server migrations connect to, host:port (never the password), for messages.</summary>
    public string Server { get; } = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString) is var c
        ? c.Host is { } host && (host.Contains(',') || host.Contains(':')) ? host : $"{c.Host}:{c.Port}" : "";

    /// <summary>
    /// <see cref="MigrateAsync(CancellationToken)"/> as the startup's and every command's first step: a failure names the step
    /// and the server (Npgsql's "The operation has timed out" or "Name or service not known" named neither).
    /// </summary>
    public Task<int> MigrateStepAsync(CancellationToken ct = default) =>
        Hosting.StepFailedException.RunAsync($"migrating the database at {Server}", () => MigrateAsync(ct));

    /// <summary>Applies the given migrations (tests pass their own list).</summary>
    public async Task<int> MigrateAsync(IReadOnlyList<Migration> migrations, CancellationToken ct = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_lock(@key)", new { key = AdvisoryLockKey }, cancellationToken: ct));
        try
        {
            // Only when missing: CREATE TABLE IF NOT EXISTS needs the right to create in the schema even
            // when the table exists, and a service that migrates as its own least-privilege login (no
            // ConnectionStrings:Migrations) must still start on a database someone else migrated.
            if (!await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
                    "SELECT to_regclass('schema_migrations') IS NOT NULL", cancellationToken: ct)))
                await connection.ExecuteAsync(new CommandDefinition("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    text PRIMARY KEY,
                    name       text NOT NULL,
                    checksum   text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """, cancellationToken: ct));
            var applied = (await connection.QueryAsync<(string Version, string Checksum)>(
                    new CommandDefinition("SELECT version, checksum FROM schema_migrations", cancellationToken: ct)))
                .ToDictionary(r => r.Version, r => r.Checksum);

            var count = 0;
            foreach (var migration in migrations)
            {
                if (applied.TryGetValue(migration.Version, out var checksum))
                {
                    if (checksum != migration.Checksum)
                        throw new InvalidOperationException(
                            $"Migration {migration.Name} was changed after it was applied; add a new migration instead.");
                    continue;
                }

                logger.LogInformation("Applying migration {Migration}", migration.Name);
                await using var tx = await connection.BeginTransactionAsync(ct);
                try
                {
                    // A migration may rewrite every incident or build an index over them: no statement
                    // timeout (the connection's default is the service's 30 s).
                    await connection.ExecuteAsync(new CommandDefinition("SET LOCAL statement_timeout = 0", transaction: tx, cancellationToken: ct));
                    await connection.ExecuteAsync(new CommandDefinition(migration.Sql, transaction: tx, commandTimeout: 0, cancellationToken: ct));
                    await connection.ExecuteAsync(new CommandDefinition(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (@Version, @Name, @Checksum)",
                        migration, tx, cancellationToken: ct));
                    await tx.CommitAsync(ct);
                }
                catch (Exception e)
                {
                    await tx.RollbackAsync(CancellationToken.None);
                    // 42501 insufficient_privilege: PostGIS, which only a superuser may create, or the service's
                    // least-privilege login migrating.
                    var hint = e is PostgresException { SqlState: PostgresErrorCodes.InsufficientPrivilege } denied
                        ? denied.MessageText.Contains("extension \"postgis\"", StringComparison.Ordinal)
                            ? " (PostGIS is not a trusted extension: a superuser must run CREATE EXTENSION postgis in this database once)"
                            : $" (login {connection.UserName} may not change the schema: migrate as the login that owns it, ConnectionStrings:Migrations)"
                        : "";
                    throw new InvalidOperationException($"Migration {migration.Name} failed and was rolled back: {e.Message}{hint}", e);
                }
                count++;
            }

            if (count > 0) await AnalyzeAsync(connection, ct);
            if (appRole is not null) await GrantAsync(connection, appRole, ct);
            await AlignFeedAsync(connection, ct);

            // Types created by a migration (postgis' geometry) must be known to this data source, also
            // when another instance applied that migration while this one waited for the lock.
            await dataSource.ReloadTypesAsync(ct);
            if (serviceDataSource is not null && serviceDataSource != dataSource) await serviceDataSource.ReloadTypesAsync(ct);
            return count;
        }
        finally
        {
            await connection.ExecuteAsync("SELECT pg_advisory_unlock(@key)", new { key = AdvisoryLockKey });
        }
    }

    /// <summary>
    /// The last feed position stored (a change's, or retention's marker when it purged them all), and
    /// the position the next transaction's changes would get (docs/change-feed.md, migration 0035).
    /// </summary>
    private static Task<(decimal? Stored, decimal NextXid, decimal Shift)> FeedPositionsAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, CancellationToken ct) =>
        connection.QuerySingleAsync<(decimal? Stored, decimal NextXid, decimal Shift)>(new CommandDefinition("""
            SELECT greatest((SELECT max(xid) FROM incident_changes), (SELECT xid FROM incident_changes_purged))::text::numeric AS stored,
                   pg_snapshot_xmax(pg_current_snapshot())::text::numeric AS next,
                   (SELECT shift FROM incident_feed_shift) AS shift
            """, transaction: tx, cancellationToken: ct));

    /// <summary>
    /// <see cref="AlignFeedAsync(NpgsqlConnection, CancellationToken)"/> alone, for a service that does not
    /// migrate as it starts (Database:MigrateOnStartup=false): under the migrations' lock when it is free;
    /// when it is not, whoever holds it is migrating, and aligns the feed as it finishes.
    /// </summary>
    public async Task AlignFeedAsync(CancellationToken ct = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        if (!await connection.ExecuteScalarAsync<bool>(new CommandDefinition("SELECT pg_try_advisory_lock(@key)", new { key = AdvisoryLockKey }, cancellationToken: ct)))
            return;
        try
        {
            await AlignFeedAsync(connection, ct);
        }
        finally
        {
            await connection.ExecuteAsync("SELECT pg_advisory_unlock(@key)", new { key = AdvisoryLockKey });
        }
    }

    /// <summary>
    /// Keeps the change feed's positions ahead of what it has stored (migration 0035). They are
    /// transaction ids, which a database restored from a logical dump into another cluster brings with
    /// it, while that cluster counts its own, often from far below: the feed then hid every restored
    /// change and would later take dashboards' old cursors again and skip what came between. Where the
    /// stored positions reach the next one, the shift added to this cluster's ids is raised just past
    /// them: new changes sort after every restored one, and every cursor stays good. One query at each
    /// start; the shift moves under a lock that no writer of changes holds, never under one.
    /// </summary>
    private async Task AlignFeedAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        // Not before migration 0035 (tests migrate part of the way).
        if (!await connection.ExecuteScalarAsync<bool>(new CommandDefinition("SELECT to_regclass('incident_feed_shift') IS NOT NULL", cancellationToken: ct)))
            return;
        var positions = await FeedPositionsAsync(connection, null, ct);
        if (positions.Stored is not { } ahead || ahead < positions.NextXid + positions.Shift) return;

        await using var tx = await connection.BeginTransactionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition("LOCK TABLE incident_changes IN EXCLUSIVE MODE", transaction: tx, cancellationToken: ct));
        positions = await FeedPositionsAsync(connection, tx, ct);
        if (positions.Stored is not { } stored || stored < positions.NextXid + positions.Shift)
        {
            await tx.CommitAsync(ct);
            return;
        }
        var shift = stored - positions.NextXid + 1;
        await connection.ExecuteAsync(new CommandDefinition("UPDATE incident_feed_shift SET shift = @shift", new { shift }, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
        logger.LogWarning(
            "The change feed holds positions up to {Stored}, beyond this cluster's next transaction id {Next}: the database was restored " +
            "from a logical dump into another cluster. Feed positions are now this cluster's transaction ids plus {Shift}, so new changes " +
            "come after the restored ones and the cursors dashboards hold stay good (docs/change-feed.md)",
            stored, positions.NextXid, shift);
    }

    /// <summary>
    /// Refreshes the planner's statistics of every table after migrations ran. A migration that rewrites
    /// or backfills rows (0027 rewrote every incident, 0028 updated the untrimmed ones) leaves the
    /// statistics of the rows it replaced until autovacuum next passes, and a crash, or an immediate
    /// shutdown, resets autovacuum's counts of what changed, so it may not pass for a long time. The
    /// service's plans (the spatial index against the time index, generic plans of prepared reads) are
    /// chosen from these statistics. ANALYZE reads a sample of each table, not all of it: 3 s for the
    /// bench's million incidents and its gazetteer on a busy 2-core machine.
    /// <para>
    /// Then incidents are vacuumed, which marks their pages all-visible: a rewritten table (0037 added a
    /// stored column) starts with none marked, and until autovacuum passes an index-only scan (a bbox's
    /// count over its cells) reads the table for every row after all. 2.5 s for the bench's million, just rewritten.
    /// VACUUM cannot run in a transaction, so its timeout is lifted for the session and put back.
    /// </para>
    /// </summary>
    private async Task AnalyzeAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        await using (var tx = await connection.BeginTransactionAsync(ct))
        {
            await connection.ExecuteAsync(new CommandDefinition("SET LOCAL statement_timeout = 0; ANALYZE", transaction: tx, commandTimeout: 0, cancellationToken: ct));
            await tx.CommitAsync(ct);
        }
        await connection.ExecuteAsync(new CommandDefinition("SET statement_timeout = 0", cancellationToken: ct));
        try
        {
            await connection.ExecuteAsync(new CommandDefinition("VACUUM incidents", commandTimeout: 0, cancellationToken: ct));
        }
        finally
        {
            await connection.ExecuteAsync(new CommandDefinition("RESET statement_timeout", cancellationToken: CancellationToken.None));
        }
        logger.LogInformation("Refreshed the planner's statistics and the visibility of incidents after migrating");
    }

    /// <summary>
    /// Grants <paramref name="role"/> what the service does at run time, on every object of the schemas
    /// the migrations create in (all but PostgreSQL's own; extensions' objects are left as their
    /// extension made them), where the migrating login may grant and the role lacks it:
    /// <list type="bullet">
    /// <item>tables and views: SELECT, INSERT, UPDATE, DELETE (schema_migrations: SELECT only; TRUNCATE,
    /// REFERENCES and TRIGGER never);</item>
    /// <item>sequences: USAGE, SELECT; functions and procedures: EXECUTE; the schemas: USAGE;</item>
    /// <item>the database: CONNECT and TEMPORARY (imports stage rows in temporary tables).</item>
    /// </list>
    /// What the role already has is not granted again (a GRANT rewrites the catalog row even when it
    /// changes nothing), so a start with nothing new writes nothing. LISTEN/NOTIFY, advisory locks and
    /// set_config need no grant. Nothing is revoked: what the role holds beyond this was given by hand.
    /// </summary>
    private async Task GrantAsync(NpgsqlConnection connection, string role, CancellationToken ct)
    {
        if (!await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
                "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = @role)", new { role }, cancellationToken: ct)))
            throw new InvalidOperationException(
                $"Database:AppRole is '{role}' (or the user of ConnectionStrings:Incidents), which is no role of this PostgreSQL: " +
                "create the service's login first (README: Configuration)");
        var grants = (await connection.QueryAsync<string>(new CommandDefinition(GrantsSql, new { role }, cancellationToken: ct))).AsList();
        if (grants.Count == 0) return;
        await using var tx = await connection.BeginTransactionAsync(ct);
        foreach (var grant in grants)
            await connection.ExecuteAsync(new CommandDefinition(grant, transaction: tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
        logger.LogInformation("Granted role {Role} the service's privileges on {Count} object(s)", role, grants.Count);
    }

    /// <summary>The GRANT statements <see cref="GrantAsync"/> runs, names quoted by format(): @role is never spliced into SQL.</summary>
    private const string GrantsSql = """
        WITH schemas AS (
            SELECT n.oid, n.nspname
            FROM pg_namespace n
            WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
              AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')
        ), relations AS (
            SELECT c.oid, c.relkind, c.relname, s.nspname,
                   CASE WHEN c.relkind = 'S' THEN ARRAY['USAGE', 'SELECT']
                        WHEN c.relkind = 'm' OR (s.nspname = 'public' AND c.relname = 'schema_migrations') THEN ARRAY['SELECT']
                        ELSE ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'] END AS privileges
            FROM pg_class c JOIN schemas s ON s.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND pg_has_role(c.relowner, 'USAGE')
              AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
        )
        SELECT format('GRANT %s ON %s %I.%I TO %I', array_to_string(r.privileges, ', '),
                      CASE WHEN r.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, r.nspname, r.relname, @role)
        FROM relations r
        WHERE EXISTS (SELECT FROM unnest(r.privileges) p
                      WHERE NOT CASE WHEN r.relkind = 'S' THEN has_sequence_privilege(@role, r.oid, p)
                                     ELSE has_table_privilege(@role, r.oid, p) END)
        UNION ALL
        SELECT format('GRANT EXECUTE ON ROUTINE %s TO %I', p.oid::regprocedure, @role)
        FROM pg_proc p JOIN schemas s ON s.oid = p.pronamespace
        WHERE pg_has_role(p.proowner, 'USAGE') AND NOT has_function_privilege(@role, p.oid, 'EXECUTE')
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
        UNION ALL
        SELECT format('GRANT USAGE ON SCHEMA %I TO %I', n.nspname, @role)
        FROM pg_namespace n JOIN schemas s ON s.oid = n.oid
        WHERE pg_has_role(n.nspowner, 'USAGE') AND NOT has_schema_privilege(@role, n.oid, 'USAGE')
        UNION ALL
        SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', d.datname, @role)
        FROM pg_database d
        WHERE d.datname = current_database() AND pg_has_role(d.datdba, 'USAGE')
          AND NOT (has_database_privilege(@role, d.oid, 'CONNECT') AND has_database_privilege(@role, d.oid, 'TEMPORARY'))
        """;
}
