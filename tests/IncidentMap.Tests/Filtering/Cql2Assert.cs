using Dapper;
using IncidentMap.Api.Filtering;
using Npgsql;

namespace IncidentMap.Tests.Filtering;

internal static class Cql2Assert
{
    /// <summary>
    /// The names of the incidents tagged <paramref name="tag"/> that the compiled filter matches in the database, sorted
    /// (<paramref name="names"/> by id: what the test called each incident it inserted).
    /// </summary>
    public static async Task<List<string>> MatchingAsync(NpgsqlDataSource database, string filter, string lang, string tag, IReadOnlyDictionary<long, string> names)
    {
        var compiled = Compiles(filter, lang);
        var parameters = new DynamicParameters();
        foreach (var (name, value) in compiled.Parameters) parameters.Add(name, value);
        parameters.Add("tag", tag);

        await using var connection = await database.OpenConnectionAsync();
        var ids = await connection.QueryAsync<long>(
            $"SELECT i.id FROM incidents i WHERE i.deleted_at IS NULL AND ({compiled.Sql}) AND i.tags @> ARRAY[@tag]", parameters);
        return Names(string.Join(' ', ids.Select(id => names[id])));
    }

    /// <summary>Space-separated names, sorted.</summary>
    public static List<string> Names(string names) => names.Split(' ', StringSplitOptions.RemoveEmptyEntries).Order().ToList();

    public static CompiledFilter Compiles(string filter, string lang = Cql2.TextLanguage)
    {
        var (compiled, error) = Cql2.Compile(filter, lang);
        Assert.True(error is null, $"{filter}: {error}");
        return compiled!;
    }

    /// <summary>The filter is refused at <paramref name="position"/> (-1 for CQL2 JSON) with a message containing <paramref name="message"/>.</summary>
    public static FilterError Fails(string filter, int position, string message, string lang = Cql2.TextLanguage)
    {
        var (compiled, error) = Cql2.Compile(filter, lang);
        Assert.Null(compiled);
        Assert.NotNull(error);
        Assert.Contains(message, error.Message);
        Assert.Equal(position, error.Position);
        return error;
    }
}
