using System.Text;
using Dapper;

namespace IncidentMap.Api.Querying;

/// <summary>What a sort key is in SQL, and how its value travels inside a cursor.</summary>
public enum KeyKind { Timestamp, Integer }

public sealed record SortField(string Name, string Sql, KeyKind Kind);

public static class SortFields
{
    public static readonly IReadOnlyDictionary<string, SortField> All = new[]
    {
        new SortField("occurred_at", "i.occurred_at", KeyKind.Timestamp),
        new SortField("id", "i.id", KeyKind.Integer),
    }.ToDictionary(f => f.Name, StringComparer.Ordinal);
}

/// <summary>Parameterised SQL compiled from an <see cref="IncidentQuery"/>.</summary>
public sealed record SqlQuery(string Sql, DynamicParameters Parameters, int KeyColumns);

/// <summary>
/// Compiles an <see cref="IncidentQuery"/> into one SQL statement. The only place that writes WHERE
/// and ORDER BY for incidents; it emits parameters and whitelisted identifiers only.
/// </summary>
public static class IncidentSqlBuilder
{
    /// <summary>One GeoJSON Feature per row, built by PostgreSQL so rows stream out as they are read.</summary>
    public const string GeoJsonFeature = """
        json_build_object(
            'type', 'Feature',
            'id', i.id,
            'geometry', ST_AsGeoJSON(i.geom, @precision)::json,
            'properties', json_build_object(
                'title', i.title,
                'summary', i.summary,
                'event_type', i.event_type,
                'sub_event_type', i.sub_event_type,
                'occurred_at', i.occurred_at,
                'time_precision', i.time_precision,
                'location_name', i.location_name,
                'admin1', i.admin1,
                'admin2', i.admin2,
                'country', i.country,
                'geo_precision', i.geo_precision,
                'fatalities_min', i.fatalities_min,
                'fatalities_max', i.fatalities_max,
                'injured_min', i.injured_min,
                'injured_max', i.injured_max,
                'actors', i.actors,
                'claimed_by', i.claimed_by,
                'sources', i.sources,
                'status', i.status,
                'tags', i.tags,
                'external_id', i.external_id,
                'created_at', i.created_at,
                'updated_at', i.updated_at,
                'version', i.version))::text
        """;

    public static SqlQuery Build(IncidentQuery query, string projection)
    {
        var parameters = new DynamicParameters();
        var where = new List<string> { "i.deleted_at IS NULL" };
        parameters.Add("precision", query.Precision);

        if (query.Id is { } id)
        {
            where.Add("i.id = @id");
            parameters.Add("id", id);
        }

        var keys = SortKeys(query.Sort);
        if (query.After is { } after)
        {
            // Row-value comparison (a, b) < (x, y) is what lets a btree on (a, b) serve every page.
            var op = query.Sort.Descending ? "<" : ">";
            var columns = string.Join(", ", keys.Select(k => k.Sql));
            var values = string.Join(", ", keys.Select((_, n) => $"@k{n}"));
            where.Add($"({columns}) {op} ({values})");
            for (var n = 0; n < keys.Count; n++) parameters.Add($"k{n}", FromCursorValue(keys[n].Kind, after.Keys[n]));
        }

        var direction = query.Sort.Descending ? " DESC" : "";
        var sql = new StringBuilder();
        sql.Append("SELECT ").Append(projection);
        for (var n = 0; n < keys.Count; n++) sql.Append(", ").Append(keys[n].Sql).Append(" AS k").Append(n);
        sql.Append("\nFROM incidents i\nWHERE ").AppendJoin("\n  AND ", where);
        sql.Append("\nORDER BY ").AppendJoin(", ", keys.Select(k => k.Sql + direction));
        sql.Append("\nLIMIT @limit");
        // One extra row tells whether a next page exists without a COUNT.
        parameters.Add("limit", query.Limit + 1);
        return new SqlQuery(sql.ToString(), parameters, keys.Count);
    }

    /// <summary>The sort field, then the primary key as tie-breaker.</summary>
    public static IReadOnlyList<SortField> SortKeys(SortOrder sort)
    {
        var field = SortFields.All[sort.Field];
        return field.Name == "id" ? [field] : [field, SortFields.All["id"]];
    }

    public static bool CursorMatches(PageCursor cursor, SortOrder sort) =>
        cursor.Sort == sort.ToString() && cursor.Keys.Length == SortKeys(sort).Count
        && SortKeys(sort).Select((k, n) => IsValidCursorValue(k.Kind, cursor.Keys[n])).All(ok => ok);

    public static object? ToCursorValue(KeyKind kind, object? value) => kind switch
    {
        KeyKind.Timestamp => value is DateTime t ? (t.ToUniversalTime() - DateTime.UnixEpoch).Ticks / 10 : null,
        _ => value,
    };

    private static bool IsValidCursorValue(KeyKind kind, object? value) => kind switch
    {
        KeyKind.Timestamp or KeyKind.Integer => value is long,
        _ => false,
    };

    private static object? FromCursorValue(KeyKind kind, object? value) => kind switch
    {
        KeyKind.Timestamp => DateTime.UnixEpoch.AddTicks((long)value! * 10),
        _ => value,
    };
}
