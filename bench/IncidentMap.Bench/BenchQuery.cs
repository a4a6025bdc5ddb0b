using System.Text.RegularExpressions;
using Dapper;
using IncidentMap.Api.Querying;
using NetTopologySuite.Geometries;

namespace IncidentMap.Bench;

/// <summary>
/// One query in both forms: the API request path, and the SQL statement the API compiles that request
/// into, with its parameters written in as literals so psql and pgbench can run it unchanged.
/// </summary>
public sealed partial record BenchQuery(string Path, string Sql, string CountSql)
{
    /// <summary>
    /// The statement the API runs for this page when its cores are busy (as many pages in flight as
    /// cores): the page computed whole, then sent (IncidentSqlBuilder.Whole). The same as
    /// <see cref="Sql"/> for what is not a page.
    /// </summary>
    public string WholeSql { get; init; } = Sql;

    /// <summary>The statement the API runs for this query with <paramref name="clients"/> requests at once.</summary>
    public string SqlAt(int clients) => clients >= Environment.ProcessorCount ? WholeSql : Sql;

    private const string ItemsPath = "/collections/incidents/items";

    /// <summary>
    /// Both forms from one set of query parameters, through the API's own parser and SQL builder.
    /// Pass <c>count=false</c>: otherwise the API runs a second statement (numberMatched) on first pages.
    /// </summary>
    public static BenchQuery From(IReadOnlyDictionary<string, string> parameters)
    {
        var (query, errors) = QueryParser.Parse(parameters, DateTimeOffset.UtcNow);
        if (query is null)
            throw new ArgumentException("invalid query: " + string.Join("; ", errors.Select(e => $"{e.Field} {e.Detail}")));

        var path = ItemsPath + "?" + string.Join("&", parameters.Select(p => $"{Uri.EscapeDataString(p.Key)}={Uri.EscapeDataString(p.Value)}"));
        var select = IncidentSqlBuilder.Build(query);
        var (countSql, countParameters) = IncidentSqlBuilder.Count(query);
        return new BenchQuery(path, Inline(select.Sql, select.Parameters), Inline(countSql, countParameters))
        {
            WholeSql = Inline(IncidentSqlBuilder.Whole(select).Sql, select.Parameters),
        };
    }

    /// <summary>A vector tile of all incidents, as the API requests it and as TileSql builds it.</summary>
    public static BenchQuery FromTile(int z, double lon, double lat)
    {
        var n = 1 << z;
        var x = (int)Math.Floor((lon + 180) / 360 * n);
        var latRad = lat * Math.PI / 180;
        var y = (int)Math.Floor((1 - Math.Log(Math.Tan(latRad) + 1 / Math.Cos(latRad)) / Math.PI) / 2 * n);
        var (sql, parameters) = IncidentMap.Api.Tiles.TileSql.Tile(new IncidentQuery(), z, x, y);
        return new BenchQuery($"/collections/incidents/tiles/WebMercatorQuad/{z}/{y}/{x}", Inline(sql, parameters), "SELECT 0");
    }

    [GeneratedRegex(@"(?<!@)@([A-Za-z_][A-Za-z0-9_]*)")]
    private static partial Regex ParameterPattern();

    private static string Inline(string sql, DynamicParameters parameters)
    {
        // Dapper matches parameter names case-insensitively; so must we.
        var values = parameters.ParameterNames.ToDictionary(n => n, n => parameters.Get<object?>(n), StringComparer.OrdinalIgnoreCase);
        return ParameterPattern().Replace(sql, match => values.TryGetValue(match.Groups[1].Value, out var value)
            ? Literal(value)
            : throw new InvalidOperationException($"the SQL uses @{match.Groups[1].Value}, which has no value"));
    }

    /// <summary>A SQL literal of the same type Npgsql sends the parameter as, so the planner sees the same query.</summary>
    private static string Literal(object? value) => value switch
    {
        null => "NULL",
        int or long => FormattableString.Invariant($"{value}"),
        short n => FormattableString.Invariant($"{n}::smallint"),
        double d => FormattableString.Invariant($"'{d:R}'::float8"),
        string s => Quote(s) + "::text",
        string[] list => $"ARRAY[{string.Join(", ", list.Select(Quote))}]::text[]",
        int[] list => $"ARRAY[{string.Join(", ", list.Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture)))}]::integer[]",
        DateTimeOffset t => Timestamp(t.UtcDateTime),
        DateTime t => Timestamp(t.ToUniversalTime()),
        Point p => FormattableString.Invariant($"ST_SetSRID(ST_MakePoint({p.X:R}, {p.Y:R}), {p.SRID})"),
        IncidentMap.Api.Database.GeographyValue { Geometry: Point p } => FormattableString.Invariant($"ST_SetSRID(ST_MakePoint({p.X:R}, {p.Y:R}), {p.SRID})::geography"),
        _ => throw new NotSupportedException($"no SQL literal for a parameter of type {value.GetType()}"),
    };

    private static string Quote(string text) => "'" + text.Replace("'", "''") + "'";

    private static string Timestamp(DateTime utc) => $"'{utc:yyyy-MM-dd HH:mm:ss.ffffff}+00'::timestamptz";
}
