using System.Globalization;
using System.Text;
using Dapper;
using IncidentMap.Api.Collections;
using Microsoft.Extensions.Caching.Memory;
using NetTopologySuite.Geometries;
using NetTopologySuite.IO;

namespace IncidentMap.Api.Querying;

/// <summary>
/// numberMatched, counted once per filter and data version. The count is a second statement over every
/// match, and over a large area it costs far more than the page (all of Syria: 2.3 s for 201,900 matches,
/// docs/query-performance.md). GIS clients ask for it twice in a row: GDAL's and QGIS's OAPIF drivers read
/// <c>limit=1</c> for the feature count, then the first page of the same filter; a dashboard's viewers
/// open the same view. Each asks the same question of the same data.
/// <para>
/// The key is the count's own SQL and parameter values, so two requests share a count only when
/// PostgreSQL would run the same statement (limit, cursor, sort and format are not in it), plus the
/// <see cref="DataVersion"/> read before counting. Every write advances that version once committed (this
/// process's own, and others' through the change listener), as the list and tile ETags rely on: a count
/// is never served after the version it was counted under has moved on. A parameter of a type not known
/// here is not cached at all, rather than risk two values with one spelling.
/// </para>
/// </summary>
public sealed class MatchCounts(IncidentReader reader, DataVersion dataVersion, IMemoryCache cache)
{
    private static readonly TimeSpan KeepFor = TimeSpan.FromMinutes(10);

    /// <summary>How many incidents match <paramref name="query"/> (cursor ignored).</summary>
    public async Task<long> CountAsync(IncidentQuery query, CancellationToken ct)
    {
        var (key, sql, parameters) = Counted(query);
        if (key is not null && cache.TryGetValue(key, out long known)) return known;
        var count = await reader.ScalarAsync<long>(sql, parameters, ct);
        if (key is not null)
            cache.Set(key, count, new MemoryCacheEntryOptions { Size = 2 * key.Length + 64, AbsoluteExpirationRelativeToNow = KeepFor });
        return count;
    }

    /// <summary>The count of <paramref name="query"/> under the current data version, if one was counted; never counts.</summary>
    public long? Known(IncidentQuery query) =>
        Counted(query).Key is { } key && cache.TryGetValue(key, out long count) ? count : null;

    /// <summary>
    /// The count's statement and its key under the current data version, read before any counting: a write
    /// committed during the count advances the version after, never before.
    /// </summary>
    private (string? Key, string Sql, DynamicParameters Parameters) Counted(IncidentQuery query)
    {
        var (sql, parameters) = IncidentSqlBuilder.Count(query);
        return (Key(dataVersion.Current, sql, parameters), sql, parameters);
    }

    /// <summary>The cache key, or null when a parameter's value cannot be written unambiguously.</summary>
    internal static string? Key(long version, string sql, DynamicParameters parameters)
    {
        var key = new StringBuilder("count:").Append(version.ToString("x", CultureInfo.InvariantCulture)).Append(':');
        Text(key, sql);
        var lookup = (SqlMapper.IParameterLookup)parameters;
        foreach (var name in parameters.ParameterNames.Order(StringComparer.Ordinal))
        {
            Text(key.Append('@'), name);
            if (!Value(key, lookup[name])) return null;
        }
        return key.ToString();
    }

    // Each value is tagged with its type and each text with its length, so no two values share a spelling.
    private static bool Value(StringBuilder key, object? value)
    {
        switch (value)
        {
            case null: key.Append('n'); return true;
            case string s: Text(key.Append('s'), s); return true;
            case bool b: key.Append(b ? "bt" : "bf"); return true;
            case int i: key.Append('i').Append(i.ToString(CultureInfo.InvariantCulture)).Append(';'); return true;
            case long l: key.Append('l').Append(l.ToString(CultureInfo.InvariantCulture)).Append(';'); return true;
            case double d: key.Append('d').Append(BitConverter.DoubleToInt64Bits(d).ToString("x", CultureInfo.InvariantCulture)).Append(';'); return true;
            case decimal m: key.Append('m').Append(m.ToString(CultureInfo.InvariantCulture)).Append(';'); return true;
            case DateTimeOffset t: key.Append('t').Append(t.UtcTicks.ToString(CultureInfo.InvariantCulture)).Append(';'); return true;
            case DateTime t: key.Append('T').Append(t.Ticks.ToString(CultureInfo.InvariantCulture)).Append((int)t.Kind).Append(';'); return true;
            case Geometry g: Geometry(key.Append('g'), g); return true;
            case Database.GeographyValue { Geometry: var g }: Geometry(key.Append('G'), g); return true;
            case Array items:
                key.Append('[').Append(items.Length.ToString(CultureInfo.InvariantCulture)).Append(':');
                foreach (var item in items)
                    if (!Value(key, item)) return false;
                key.Append(']');
                return true;
            default: return false;
        }
    }

    private static void Geometry(StringBuilder key, Geometry geometry)
    {
        key.Append(geometry.SRID.ToString(CultureInfo.InvariantCulture)).Append(':');
        Text(key, Convert.ToHexString(new WKBWriter(ByteOrder.LittleEndian, handleSRID: false, emitZ: true, emitM: true).Write(geometry)));
    }

    private static void Text(StringBuilder key, string text) =>
        key.Append(text.Length.ToString(CultureInfo.InvariantCulture)).Append(':').Append(text);
}
