using System.Text.Json;

namespace IncidentMap.Api.Imports;

/// <summary>
/// The <c>crs</c> member of a FeatureCollection, as GeoJSON's 2008 specification had it and GDAL still writes it:
/// <c>{"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}</c>. RFC 7946 removed it (every
/// coordinate is WGS 84 longitude, latitude), but a file in another CRS still says so there, and its coordinates
/// would otherwise all be refused one by one ("longitude 4087000 is outside -180..180"), or, where they happen to
/// fit, be stored in the wrong place.
/// </summary>
internal static class GeoJsonCrs
{
    /// <summary>
    /// Names of WGS 84 longitude/latitude. EPSG:4326 is among them: its axis order is formally latitude first, but
    /// GeoJSON 2008 fixes positions as x, y ("longitude, latitude" for a geographic CRS) whatever the CRS, and
    /// GDAL reads such a file as longitude, latitude. (OGC API's <c>Content-Crs</c> follows the CRS's own axis
    /// order instead, and takes CRS84 alone.)
    /// </summary>
    private static readonly HashSet<string> LonLat = new(StringComparer.OrdinalIgnoreCase)
    {
        "urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:OGC::CRS84",
        Collections.Conformance.Crs84, "https://www.opengis.net/def/crs/OGC/1.3/CRS84",
        "http://www.opengis.net/def/crs/OGC/0/CRS84", "OGC:CRS84", "[OGC:CRS84]", "CRS84",
        "urn:ogc:def:crs:EPSG::4326", "EPSG:4326", "[EPSG:4326]", "http://www.opengis.net/def/crs/EPSG/0/4326",
        "https://www.opengis.net/def/crs/EPSG/0/4326", "http://www.opengis.net/gml/srs/epsg.xml#4326",
    };

    private const string Remedy = "send lon/lat in CRS84 (WGS 84: \"urn:ogc:def:crs:OGC:1.3:CRS84\", the default: leave crs out), " +
                                  "e.g. reprojected with ogr2ogr -t_srs EPSG:4326";

    /// <summary>Why the member refuses the file, or null when it names WGS 84 longitude/latitude (or is null: no claim).</summary>
    public static string? Problem(JsonElement crs)
    {
        if (crs.ValueKind == JsonValueKind.Null) return null;
        if (crs.ValueKind == JsonValueKind.Object && crs.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
            && crs.TryGetProperty("properties", out var properties) && properties.ValueKind == JsonValueKind.Object)
        {
            if (type.ValueEquals("name"u8) && properties.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
            {
                var text = name.GetString()!.Trim();
                // Versioned EPSG names (urn:ogc:def:crs:EPSG:6.6:4326) name the same CRS.
                return LonLat.Contains(text) || (text.StartsWith("urn:ogc:def:crs:EPSG:", StringComparison.OrdinalIgnoreCase) && text.EndsWith(":4326", StringComparison.Ordinal)
                                                 && text.Count(c => c == ':') == 6)
                    ? null
                    // Quoted as every client's value is, cut: a name of 50,000 characters came back whole three times.
                    : $"{Problems.FieldError.Quoted(text)} is not a coordinate reference system this service takes; {Remedy}";
            }
            if (type.ValueEquals("link"u8))
                return $"links to a coordinate reference system, which this service does not follow; {Remedy}";
        }
        return $"must be null or name a coordinate reference system ({{\"type\": \"name\", \"properties\": {{\"name\": \"urn:ogc:def:crs:OGC:1.3:CRS84\"}}}}); {Remedy}";
    }
}
