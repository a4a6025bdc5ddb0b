namespace IncidentMap.Api.Querying;

/// <summary>
/// One output property: how PostgreSQL renders it inside a GeoJSON Feature and as a CSV field.
/// The name is the same everywhere: column, GeoJSON property, CSV header, query parameter.
/// </summary>
public sealed record OutputColumn(string Name, string Json, string Csv);

public static class Columns
{
    private const string IsoUtc = "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'";

    private static OutputColumn Text(string name) => new(name, $"i.{name}", $"csv_quote(i.{name})");
    private static OutputColumn Number(string name) => new(name, $"i.{name}", $"i.{name}::text");
    private static OutputColumn Time(string name) => new(name, $"i.{name}", $"to_char(i.{name} AT TIME ZONE 'UTC', {IsoUtc})");
    private static OutputColumn List(string name) => new(name, $"i.{name}", $"csv_quote(array_to_string(i.{name}, ';'))");

    /// <summary>Every incident property, in output order.</summary>
    public static readonly IReadOnlyList<OutputColumn> All =
    [
        Text("title"),
        Text("summary"),
        Text("event_type"),
        Text("sub_event_type"),
        Time("occurred_at"),
        Text("time_precision"),
        Text("location_name"),
        Text("admin1"),
        Text("admin2"),
        new("country", "i.country", "i.country::text"),
        Text("geo_precision"),
        Number("fatalities_min"),
        Number("fatalities_max"),
        Number("injured_min"),
        Number("injured_max"),
        List("actors"),
        Text("claimed_by"),
        new("sources", "i.sources", "csv_quote(i.sources::text)"),
        Text("status"),
        List("tags"),
        Text("external_id"),
        Number("place_id"),
        List("derived_fields"),
        Time("created_at"),
        Time("updated_at"),
        Number("version"),
    ];

    public static readonly IReadOnlyDictionary<string, OutputColumn> ByName = All.ToDictionary(c => c.Name, StringComparer.Ordinal);

    /// <summary>Metres from the query point, when the query has one (radius search).</summary>
    public static readonly OutputColumn Distance = new("distance_m",
        "round(ST_Distance(i.geog, @point::geography)::numeric, 1)", "round(ST_Distance(i.geog, @point::geography)::numeric, 1)::text");
}
