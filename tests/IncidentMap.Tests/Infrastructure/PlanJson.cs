using System.Text.Json.Nodes;
using Dapper;

namespace IncidentMap.Tests.Infrastructure;

/// <summary>Reading PostgreSQL's <c>EXPLAIN (FORMAT JSON)</c> plans in the plan tests.</summary>
public static class PlanJson
{
    /// <summary>Every node of a plan (and every object inside one), depth first.</summary>
    public static IEnumerable<JsonObject> Nodes(JsonNode? node) => node switch
    {
        JsonObject o => [o, .. o.SelectMany(p => Nodes(p.Value))],
        JsonArray a => a.SelectMany(Nodes),
        _ => [],
    };

    /// <summary>The shared buffers (hit and read) the statement's run took, from <c>EXPLAIN (ANALYZE, BUFFERS)</c>.</summary>
    public static async Task<long> Buffers(Npgsql.NpgsqlConnection connection, string sql, DynamicParameters parameters)
    {
        var plan = JsonNode.Parse(await connection.ExecuteScalarAsync<string>("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, parameters) ?? "null");
        var root = plan![0]!["Plan"]!;
        return root["Shared Hit Blocks"]!.GetValue<long>() + root["Shared Read Blocks"]!.GetValue<long>();
    }
}
