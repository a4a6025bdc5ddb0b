using Npgsql;

namespace IncidentMap.Bench;

public static class Database
{
    /// <summary>The bench database, with PostGIS geometry mapped to NetTopologySuite like the API's.</summary>
    public static NpgsqlDataSource Open(string connectionString)
    {
        // Index builds and counts over a million rows outlast Npgsql's default 30 s command timeout.
        var builder = new NpgsqlDataSourceBuilder(new NpgsqlConnectionStringBuilder(connectionString) { CommandTimeout = 0 }.ConnectionString);
        builder.UseNetTopologySuite();
        return builder.Build();
    }

    public static async Task<T> ScalarAsync<T>(this NpgsqlCommand command)
    {
        await using (command) return (T)(await command.ExecuteScalarAsync())!;
    }
}
