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
public sealed class Migrator(NpgsqlDataSource dataSource, ILogger<Migrator> logger)
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

    /// <summary>Applies the given migrations (tests pass their own list).</summary>
    public async Task<int> MigrateAsync(IReadOnlyList<Migration> migrations, CancellationToken ct = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_lock(@key)", new { key = AdvisoryLockKey }, cancellationToken: ct));
        try
        {
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
                    throw new InvalidOperationException($"Migration {migration.Name} failed and was rolled back: {e.Message}", e);
                }
                count++;
            }

            // Types created by a migration (postgis' geometry) must be known to this data source, also
            // when another instance applied that migration while this one waited for the lock.
            await dataSource.ReloadTypesAsync(ct);
            return count;
        }
        finally
        {
            await connection.ExecuteAsync("SELECT pg_advisory_unlock(@key)", new { key = AdvisoryLockKey });
        }
    }
}
