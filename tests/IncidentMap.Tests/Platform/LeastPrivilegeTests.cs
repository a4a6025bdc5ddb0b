using Dapper;
using IncidentMap.Api.Database;
using IncidentMap.Api.Hosting;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace IncidentMap.Tests.Platform;

/// <summary>
/// The service logs in as a role of its own that may read and write the data and nothing else: an SQL
/// injection, were one found, could not read the server's files, run programs, change the schema or
/// read other logins' secrets. Every other test of the service runs as that role too (ApiFixture),
/// which proves the grants are enough; these prove they are not more, and that they follow new tables.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class LeastPrivilegeTests(ApiFixture api)
{
    [Fact]
    public async Task The_service_logs_in_as_its_own_role_without_superuser_powers()
    {
        await using var connection = await api.Services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync();

        var role = await connection.QuerySingleAsync<(string Name, bool Super, bool CreateRole, bool CreateDb, bool BypassRls)>(
            "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = current_user");

        Assert.Equal((ApiFixture.AppRole, false, false, false, false), role);
        Assert.NotEqual("postgres", role.Name);
        // It owns nothing: ownership is the right to ALTER and DROP.
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>(
            "SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) AND relpersistence <> 't'"));
    }

    [Theory]
    [InlineData("COPY (SELECT 1) TO PROGRAM 'id'")]
    [InlineData("COPY incidents (title) FROM '/etc/hostname'")]
    [InlineData("COPY (SELECT 1) TO '/tmp/incidentmap-intruder'")]
    [InlineData("SELECT pg_read_file('/etc/hostname')")]
    [InlineData("SELECT lo_import('/etc/hostname')")]
    [InlineData("SELECT rolpassword FROM pg_authid")]
    [InlineData("CREATE TABLE public.intruder (id int)")]
    [InlineData("CREATE SCHEMA intruder")]
    [InlineData("CREATE FUNCTION public.intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'")]
    [InlineData("DROP TABLE incidents")]
    [InlineData("TRUNCATE incidents")]
    [InlineData("ALTER TABLE incidents ADD COLUMN intruder int")]
    [InlineData("ALTER TABLE incidents DISABLE TRIGGER ALL")]
    [InlineData("CREATE OR REPLACE FUNCTION incident_feed_horizon() RETURNS xid8 LANGUAGE sql AS 'SELECT NULL::xid8'")]
    [InlineData("DELETE FROM schema_migrations")]
    [InlineData("INSERT INTO schema_migrations (version, name, checksum) VALUES ('9998', 'intruder', 'x')")]
    [InlineData("SET session_replication_role = replica")]
    [InlineData("SET ROLE postgres")]
    [InlineData("CREATE ROLE intruder LOGIN SUPERUSER")]
    [InlineData("GRANT pg_read_server_files TO CURRENT_USER")]
    [InlineData("CREATE DATABASE intruder", false)]
    [InlineData("ALTER SYSTEM SET log_statement = 'none'", false)]
    public async Task The_services_login_is_refused_what_the_service_never_does(string sql, bool inTransaction = true)
    {
        await using var connection = new NpgsqlConnection(ApiFixture.AppConnectionString);
        await connection.OpenAsync();
        // Rolled back should it ever succeed: the shared test database stays whole, and the test fails.
        await using var tx = inTransaction ? await connection.BeginTransactionAsync() : null;

        var error = await Assert.ThrowsAsync<PostgresException>(() => connection.ExecuteAsync(sql, transaction: tx));

        Assert.True(error.SqlState == PostgresErrorCodes.InsufficientPrivilege, $"{sql}: {error.SqlState} {error.MessageText}");
    }

    [Fact]
    public async Task Its_login_alone_finds_a_migrated_database_up_to_date_and_migrates_nothing()
    {
        // A deployment whose migrations run elsewhere (compose's migrate job) still runs `migrate`, `keys`
        // and the service with migrations on startup over the service's own login: nothing is pending.
        var (exit, stdout, stderr) = await ServiceProcess.RunAsync(new Dictionary<string, string>
        {
            ["ConnectionStrings__Incidents"] = ApiFixture.AppConnectionString, ["Gazetteer__Path"] = "",
        }, "migrate");

        Assert.True(exit == 0, stderr);
        Assert.Contains($"0 migration(s) applied; schema at {Migrator.LatestVersion}\n", stdout.ReplaceLineEndings("\n"));
    }

    /// <summary>Migrating or not: without migrating (Database__MigrateOnStartup=false) it said nothing.</summary>
    [Theory]
    [InlineData("true")]
    [InlineData("false")]
    public async Task A_service_logging_in_as_a_superuser_says_so_when_it_starts(string migrates)
    {
        var start = ServiceProcess.StartInfo(new Dictionary<string, string>
        {
            ["ConnectionStrings__Incidents"] = ApiFixture.ConnectionString, ["Gazetteer__Path"] = "", ["Database__MigrateOnStartup"] = migrates,
        }, "serve");
        await using var serving = await ServiceProcess.ServeAsync(start);

        Assert.Contains("The service logs in to PostgreSQL as postgres, which has superuser", serving.Log);
    }
}

/// <summary>The Migrator grants the service's role what it needs on what migrations create, a later migration's tables included.</summary>
public sealed class MigrationGrantTests : IAsyncLifetime
{
    private OwnDatabase _database = null!;

    public async Task InitializeAsync() => _database = await OwnDatabase.CreateAsync("grants");

    public async Task DisposeAsync() => await _database.DisposeAsync();

    /// <summary>A release after this one: a table, its identity sequence, a sequence and a function (not PUBLIC's), in a schema of its own too.</summary>
    private static readonly Migrator.Migration Later = new("9999", "9999_later_release", """
        CREATE TABLE later_notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text NOT NULL);
        CREATE SEQUENCE later_numbers;
        CREATE FUNCTION later_count() RETURNS bigint LANGUAGE sql STABLE AS 'SELECT count(*) FROM later_notes';
        REVOKE EXECUTE ON FUNCTION later_count() FROM PUBLIC;
        CREATE SCHEMA later;
        CREATE TABLE later.archive (id bigint PRIMARY KEY);
        """, "later");

    private NpgsqlConnection AppConnection() => new(ApiFixture.Logins(_database.Name).Service);

    [Fact]
    public async Task A_table_a_later_migration_creates_is_the_services_to_use_at_once_and_no_more()
    {
        var migrator = new Migrator(_database.DataSource, NullLogger<Migrator>.Instance, ApiFixture.AppRole);
        await migrator.MigrateAsync();

        Assert.Equal(1, await migrator.MigrateAsync([.. Migrator.Embedded, Later]));

        await using var app = AppConnection();
        await app.OpenAsync();
        var id = await app.ExecuteScalarAsync<long>("INSERT INTO later_notes (note) VALUES ('first') RETURNING id");
        Assert.Equal(1, await app.ExecuteAsync("UPDATE later_notes SET note = 'second' WHERE id = @id", new { id }));
        Assert.Equal(1L, await app.ExecuteScalarAsync<long>("SELECT later_count()"));
        Assert.True(await app.ExecuteScalarAsync<long>("SELECT nextval('later_numbers')") > 0);
        Assert.Equal(1, await app.ExecuteAsync("INSERT INTO later.archive (id) VALUES (@id)", new { id }));
        Assert.Equal(1, await app.ExecuteAsync("DELETE FROM later_notes WHERE id = @id", new { id }));
        // Temporary tables (imports stage rows in them), as before.
        await app.ExecuteAsync("CREATE TEMP TABLE staging (id int); TRUNCATE staging");
        foreach (var denied in new[] { "TRUNCATE later_notes", "DROP TABLE later_notes", "ALTER TABLE later.archive ADD COLUMN x int", "CREATE TABLE later.intruder (id int)" })
        {
            var error = await Assert.ThrowsAsync<PostgresException>(() => app.ExecuteAsync(denied));
            Assert.True(error.SqlState == PostgresErrorCodes.InsufficientPrivilege, $"{denied}: {error.SqlState} {error.MessageText}");
        }
    }

    [Fact]
    public async Task A_start_with_nothing_new_grants_nothing_again()
    {
        var migrator = new Migrator(_database.DataSource, NullLogger<Migrator>.Instance, ApiFixture.AppRole);
        await migrator.MigrateAsync();
        const string catalogRows = "SELECT string_agg(xmin::text, ',' ORDER BY oid) FROM pg_class WHERE relnamespace = 'public'::regnamespace";
        await using var connection = await _database.DataSource.OpenConnectionAsync();
        var before = await connection.ExecuteScalarAsync<string>(catalogRows);

        Assert.Equal(0, await migrator.MigrateAsync());

        // A GRANT rewrites its object's catalog row even when it changes nothing; none ran.
        Assert.Equal(before, await connection.ExecuteScalarAsync<string>(catalogRows));
    }

    [Fact]
    public async Task A_role_that_does_not_exist_stops_the_migrations_naming_the_setting()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            new Migrator(_database.DataSource, NullLogger<Migrator>.Instance, "incidentmap_no_such_role").MigrateAsync());

        Assert.Contains("Database:AppRole is 'incidentmap_no_such_role'", error.Message);
    }

    [Fact]
    public async Task A_login_that_may_not_change_the_schema_is_told_which_login_migrates()
    {
        await new Migrator(_database.DataSource, NullLogger<Migrator>.Instance, ApiFixture.AppRole).MigrateAsync();
        await using var appSource = NpgsqlDataSource.Create(ApiFixture.Logins(_database.Name).Service);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            new Migrator(appSource, NullLogger<Migrator>.Instance).MigrateAsync([.. Migrator.Embedded, Later]));

        Assert.Contains("Migration 9999_later_release failed and was rolled back: 42501: permission denied for schema public", error.Message);
        Assert.Contains($"login {ApiFixture.AppRole} may not change the schema", error.Message);
        Assert.Contains("ConnectionStrings:Migrations", error.Message);
    }
}

/// <summary>
/// The production recipe of README's Configuration: migrations as the database's owner, no superuser,
/// once a superuser has created PostGIS (not a trusted extension; unaccent and pg_trgm are).
/// </summary>
public sealed class OwnerMigrationTests
{
    [Fact]
    public async Task The_databases_owner_without_superuser_applies_every_migration_once_postgis_exists()
    {
        var suffix = Guid.NewGuid().ToString("N")[..10];
        var (owner, database, password) = ($"incidentmap_owner_{suffix}", $"incidentmap_owned_{suffix}", Guid.NewGuid().ToString("N"));
        await using var admin = NpgsqlDataSource.Create(ApiFixture.ConnectionString);
        await admin.CreateCommand($"CREATE ROLE {owner} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '{password}'").ExecuteNonQueryAsync();
        try
        {
            await admin.CreateCommand($"CREATE DATABASE {database} OWNER {owner}").ExecuteNonQueryAsync();
            var asOwner = new NpgsqlConnectionStringBuilder(ApiFixture.ConnectionString)
            {
                Username = owner, Password = password, Database = database, CommandTimeout = 120, Pooling = false,
            }.ConnectionString;
            await using (var ownerSource = new NpgsqlDataSourceBuilder(asOwner).UseNetTopologySuite().Build())
            {
                var migrator = new Migrator(ownerSource, NullLogger<Migrator>.Instance, ApiFixture.AppRole);

                var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => migrator.MigrateAsync());
                Assert.Contains("permission denied to create extension \"postgis\"", refused.Message);
                Assert.Contains("a superuser must run CREATE EXTENSION postgis in this database once", refused.Message);

                await using (var superuser = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ApiFixture.ConnectionString) { Database = database, Pooling = false }.ConnectionString))
                {
                    await superuser.OpenAsync();
                    await superuser.ExecuteAsync("CREATE EXTENSION postgis");
                }
                Assert.Equal(Migrator.Embedded.Count, await migrator.MigrateAsync());
            }

            await using var app = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ApiFixture.Logins(database).Service) { Pooling = false }.ConnectionString);
            await app.OpenAsync();
            // A write fires the change feed's triggers, which write tables of their own and notify.
            var id = await app.ExecuteScalarAsync<long>("""
                INSERT INTO incidents (title, event_type, occurred_at, geom)
                VALUES ('Owned', 'battles', '2016-02-21T07:30:00Z', ST_SetSRID(ST_MakePoint(36.72, 34.73), 4326)) RETURNING id
                """);
            Assert.Equal(1, await app.ExecuteAsync("UPDATE incidents SET title = 'Owned, corrected' WHERE id = @id", new { id }));
            Assert.True(await app.ExecuteScalarAsync<long>("SELECT count(*) FROM incident_changes WHERE incident_id = @id", new { id }) >= 2);
            Assert.Equal(owner, await app.ExecuteScalarAsync<string>("SELECT tableowner FROM pg_tables WHERE tablename = 'incidents'"));
        }
        finally
        {
            await admin.CreateCommand($"DROP DATABASE IF EXISTS {database} WITH (FORCE)").ExecuteNonQueryAsync();
            await admin.CreateCommand($"DROP ROLE IF EXISTS {owner}").ExecuteNonQueryAsync();
        }
    }
}

/// <summary>Which login migrates and which role the migrations grant to (README: Configuration).</summary>
public sealed class LoginSettingsTests
{
    private static Settings Read(params (string Key, string? Value)[] values) =>
        Settings.From(new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, v.Value))).Build());

    private const string Service = "Host=db;Username=incidentmap_app;Password=a;Database=incidentmap";
    private const string Owner = "Host=db;Username=incidentmap;Password=b;Database=incidentmap";

    [Fact]
    public void One_login_migrates_as_itself_and_grants_nothing()
    {
        var settings = Read(("ConnectionStrings:Incidents", Service));

        Assert.Null(settings.MigrationsConnectionString);
        Assert.Null(settings.AppRole);
    }

    [Fact]
    public void A_migrating_login_of_its_own_grants_to_the_services_login()
    {
        var settings = Read(("ConnectionStrings:Incidents", Service), ("ConnectionStrings:Migrations", Owner));

        Assert.Equal(Owner, settings.MigrationsConnectionString);
        Assert.Equal("incidentmap_app", settings.AppRole);
    }

    [Fact]
    public void Database_AppRole_names_the_role_when_the_login_is_another()
    {
        Assert.Equal("incidentmap_readers", Read(("ConnectionStrings:Incidents", Service), ("ConnectionStrings:Migrations", Owner),
            ("Database:AppRole", "incidentmap_readers")).AppRole);
        // Migrating as the service's own login, granting to another role too.
        Assert.Equal("incidentmap_readers", Read(("ConnectionStrings:Incidents", Service), ("Database:AppRole", "incidentmap_readers")).AppRole);
        // The same login twice is one login.
        Assert.Null(Read(("ConnectionStrings:Incidents", Service), ("ConnectionStrings:Migrations", Service)).AppRole);
    }

    [Fact]
    public void A_migrations_connection_string_that_does_not_parse_stops_without_repeating_it()
    {
        var error = Assert.Throws<SettingsException>(() => Read(("ConnectionStrings:Migrations", "Host=db;Password=hunter2;Port=abc")));

        Assert.Contains("ConnectionStrings:Migrations (environment ConnectionStrings__Migrations)", error.Message);
        Assert.DoesNotContain("hunter2", error.Message);
    }

    [Fact]
    public void A_role_name_longer_than_PostgreSQL_keeps_stops()
    {
        var error = Assert.Throws<SettingsException>(() => Read(("Database:AppRole", new string('a', 64))));

        Assert.Contains("Database:AppRole (environment Database__AppRole)", error.Message);
    }
}
