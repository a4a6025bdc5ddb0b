namespace IncidentMap.Api.Querying;

/// <summary>How a column's value is read from the row and written as JSON and as a CSV field.</summary>
public enum ColumnKind { Text, Integer, Decimal, Time, TextList, Json }

/// <summary>
/// One output property: the SQL that selects it and how <see cref="IncidentRowWriter"/> renders it.
/// The name is the same everywhere: column, GeoJSON property, CSV header, query parameter.
/// </summary>
public sealed record OutputColumn(string Name, string Sql, ColumnKind Kind);

public static class Columns
{
    private static OutputColumn Of(string name, ColumnKind kind) => new(name, $"i.{name}", kind);

    /// <summary>Every incident property, in output order.</summary>
    public static readonly IReadOnlyList<OutputColumn> All =
    [
        Of("title", ColumnKind.Text),
        Of("summary", ColumnKind.Text),
        Of("event_type", ColumnKind.Text),
        Of("sub_event_type", ColumnKind.Text),
        Of("occurred_at", ColumnKind.Time),
        Of("time_precision", ColumnKind.Text),
        Of("location_name", ColumnKind.Text),
        Of("admin1", ColumnKind.Text),
        Of("admin2", ColumnKind.Text),
        Of("admin3", ColumnKind.Text),
        new("country", "i.country::text", ColumnKind.Text),
        Of("geo_precision", ColumnKind.Text),
        Of("fatalities_min", ColumnKind.Integer),
        Of("fatalities_max", ColumnKind.Integer),
        Of("injured_min", ColumnKind.Integer),
        Of("injured_max", ColumnKind.Integer),
        Of("actors", ColumnKind.TextList),
        Of("claimed_by", ColumnKind.Text),
        new("sources", "i.sources::text", ColumnKind.Json),
        Of("status", ColumnKind.Text),
        Of("tags", ColumnKind.TextList),
        Of("external_id", ColumnKind.Text),
        Of("place_id", ColumnKind.Integer),
        Of("derived_fields", ColumnKind.TextList),
        Of("created_at", ColumnKind.Time),
        Of("updated_at", ColumnKind.Time),
        Of("version", ColumnKind.Integer),
    ];

    public static readonly IReadOnlyDictionary<string, OutputColumn> ByName = All.ToDictionary(c => c.Name, StringComparer.Ordinal);

    /// <summary>Metres from the query point, when the query has one (radius search).</summary>
    public static readonly OutputColumn Distance = new("distance_m",
        "round(ST_Distance(i.geog, @point)::numeric, 1)", ColumnKind.Decimal);
}
