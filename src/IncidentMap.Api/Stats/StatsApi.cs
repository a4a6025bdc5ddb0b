using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Dapper;
using IncidentMap.Api.Collections;
using IncidentMap.Api.Incidents;
using IncidentMap.Api.Problems;
using IncidentMap.Api.Querying;

namespace IncidentMap.Api.Stats;

/// <summary>Time series and summaries for charts, over any filter of the query engine.</summary>
public static class StatsApi
{
    private const int MaxBuckets = 10_000;

    /// <summary>Buckets × groups of one answer: every cell is answered, empty ones as zeros, so the
    /// product is what the answer costs (a year of days by country fits).</summary>
    private const int MaxCells = 100_000;
    private static readonly string[] Intervals = ["day", "week", "month"];
    private static readonly string[] ReadMethods = [HttpMethods.Get, HttpMethods.Head];

    /// <summary>group_by values: the grouping column, whitelisted.</summary>
    private static readonly Dictionary<string, string> Groups = new(StringComparer.Ordinal)
    {
        ["event_type"] = "i.event_type",
        ["country"] = "i.country::text",
        ["admin1"] = "i.admin1",
    };

    public static IEndpointRouteBuilder MapStats(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/collections/incidents/stats").WithTags("Dashboards").RequireAuthorization(Security.SecuritySetup.ReadPolicy);
        group.MapMethods("", ReadMethods, GetSeries).WithName("getStats")
            .WithSummary("Counts and fatality sums per day, week or month")
            .WithDescription("`interval` day|week|month (default day; weeks start on Monday, as ISO 8601's do), " +
                             "`group_by` event_type|country|admin1 (optional), " +
                             "`tz` an IANA time zone for the buckets (default UTC), `f` json|csv, plus every incident filter. " +
                             "Buckets run over the `datetime` window (or the matching incidents' span) and are present " +
                             "with zeros when empty; a date or month in `datetime` is that day or month in `tz`. " +
                             "An incident counts in the bucket of its occurred_at (clamped into " +
                             "the window). fatalities_min_sum and fatalities_max_sum add the known bounds, kept apart.")
            .WithMetadata(new QueryParametersMetadata { Page = [] },
                new QueryParameterDoc("interval", "Bucket size (case-insensitive); weeks start on Monday (ISO 8601).", Enum: [.. Intervals]),
                new QueryParameterDoc("group_by", "A series per value of this property.", Enum: [.. Groups.Keys]),
                new QueryParameterDoc("tz", "IANA time zone the buckets are days, weeks or months of (default UTC), e.g. Asia/Damascus; " +
                                            "case-insensitive, answered with its canonical name. Dates and months in datetime are read in it too."),
                new QueryParameterDoc("datetime", "RFC 3339 instant, date, or interval a/b (.. or empty = open; a date as end includes the whole day); " +
                                                  "durations such as PT24H/now or P1M/2016-02-29. A date or month is that local day or month in tz " +
                                                  "(2016-03 with tz=America/New_York starts at 2016-03-01T05:00:00Z); an instant with Z or an offset is that instant."),
                new QueryParameterDoc("f", "json (default) or csv (case-insensitive).", Enum: ["json", "csv"]))
            // CSV first: of two declarations of one status the document keeps the last, and the
            // OpenAPI filter then adds the CSV as text beside the JSON schema, which it does not claim.
            .Produces(StatusCodes.Status200OK, null, "text/csv")
            .Produces<StatsDoc>(StatusCodes.Status200OK, "application/json")
            .Produces(StatusCodes.Status304NotModified)
            .ProducesProblem(StatusCodes.Status412PreconditionFailed)
            .ProducesProblem(StatusCodes.Status400BadRequest);
        group.MapMethods("/summary", ReadMethods, GetSummary).WithName("getStatsSummary")
            .WithSummary("Totals, top places and latest incidents for any filter")
            .WithDescription("`f` json|csv, plus every incident filter. The CSV is one table: a row per part (`part` " +
                             "total, top_place or latest), under the union of the parts' columns in the JSON's order, " +
                             "empty where a part has none; a top place's count is in `count`.")
            .WithMetadata(new QueryParametersMetadata { Page = [] },
                new QueryParameterDoc("f", "json (default) or csv (case-insensitive).", Enum: ["json", "csv"]))
            // CSV first, as on /stats.
            .Produces(StatusCodes.Status200OK, null, "text/csv")
            .Produces<SummaryDoc>(StatusCodes.Status200OK, "application/json")
            .Produces(StatusCodes.Status304NotModified)
            .ProducesProblem(StatusCodes.Status412PreconditionFailed)
            .ProducesProblem(StatusCodes.Status400BadRequest);
        return app;
    }

    internal static async Task<IResult> GetSeries(HttpContext context, IncidentReader reader, DataVersion version)
    {
        var request = context.Request;
        if (QueryParser.Repeated(request.Query) is { } repeated) return repeated;
        // Case as the query parameters of /items take their words (f=CSV, interval=Day).
        var interval = (request.Query["interval"].FirstOrDefault() ?? "day").ToLowerInvariant();
        if (!Intervals.Contains(interval)) return Problem.BadParameter("interval", $"'{request.Query["interval"]}' is not day, week or month");
        var groupBy = request.Query["group_by"].FirstOrDefault();
        if (groupBy is not null && !Groups.ContainsKey(groupBy))
            return Problem.BadParameter("group_by", $"'{groupBy}' is not one of {string.Join(", ", Groups.Keys)}");
        var tzText = request.Query["tz"].FirstOrDefault() ?? "UTC";
        if (await TimeZoneNames.FindAsync(tzText, reader, context.RequestAborted) is not var (tz, zone, sqlZone))
            return Problem.BadParameter("tz", $"'{tzText}' is not an IANA time zone name (e.g. Asia/Damascus, UTC)");
        var csv = WantsCsv(request);
        if (csv is null) return Problem.BadParameter("f", $"'{request.Query["f"]}' is not json or csv");
        context.Response.Headers.Vary = "Accept, Accept-Encoding";
        // A date or month in datetime is that day or month where the buckets are: datetime=2016-03 with
        // tz=America/New_York is March in New York, whose buckets it then fills exactly.
        var (query, invalid) = await QueryParser.ParseFiltersAsync(request, zone, "interval", "group_by", "tz", "f");
        if (invalid is not null) return invalid;

        var closed = query!.From is { } from && from != DateTimeOffset.MinValue && query.Until is not null;
        var buckets = 0L;
        if (closed)
        {
            // Counted as the query cuts them, a partial bucket at each end included. Estimated as the window's
            // length ÷ the interval, 9,999.96 days passed as answerable (HEAD 200, If-None-Match 304) while
            // the GET found 10,001 buckets and answered with the open end's 400.
            buckets = BucketCount(interval, query.From!.Value, query.Until!.Value, zone);
            if (buckets > MaxBuckets)
                return Problem.BadParameter("datetime", $"makes {buckets} {interval} buckets; the maximum is {MaxBuckets}");
        }
        // A 304 says the request is answered as before, so it comes only once the request is known to be
        // answerable: from the parameters alone when the window is closed and the groups are few enough
        // (every event type and none), else after the limits below, which need the matching incidents.
        var groups = groupBy switch { null => 1, "event_type" => Vocabulary.EventTypes.Length + 1, _ => (int?)null };
        var answerable = closed && groups is not null && buckets * groups <= MaxCells;
        var etag = Conditional.DataETag(version, query, csv.Value ? "csv" : "json");
        var contentType = csv.Value ? CsvType : "application/json; charset=utf-8";
        var head = HttpMethods.IsHead(request.Method);
        if (answerable)
        {
            if (Conditional.Evaluate(context, etag, Conditional.Revalidate) is { } conditional) return conditional;
        }

        var parameters = new DynamicParameters();
        // With a time zone, an incident known to the day, week or month is that date where the buckets
        // are (see matches below), so it lies in a local window by its dates, not by its UTC interval: an
        // incident of 1 March matched datetime=2016-02-29 in New York too, and was counted twice. The
        // filters run on the window widened by the largest UTC offsets, and InWindow then decides.
        var local = tz != "UTC";
        var filter = local ? query with { From = Shift(query.From, -MaxOffset), Until = Shift(query.Until, MaxOffset) } : query;
        var where = string.Join("\n      AND ", IncidentSqlBuilder.Where(filter, parameters));
        if (local) where += "\n      AND " + InWindow;
        parameters.Add("interval", interval);
        // The name AT TIME ZONE reads as the zone (posix/CET for CET, an abbreviation of UTC+1 to it).
        parameters.Add("tz", sqlZone);
        parameters.Add("window_from", query.From);
        parameters.Add("window_until", query.Until);
        parameters.Add("max_buckets", MaxBuckets + 1); // one more, to tell a span that is too long
        var group = groupBy is null ? "NULL::text" : Groups[groupBy];
        // Buckets are keyed by their local start as a wall-clock time (timestamp without time zone), and
        // the series steps through wall-clock days, weeks or months. Keyed by instants, a bucket whose
        // local midnight does not exist (Asia/Damascus on 2016-03-25: clocks went from 00:00 to 01:00)
        // started the series at 01:00 local, every later bucket at 01:00 too, and no incident's
        // date_trunc (midnight) matched them: the days after it counted nothing.
        var firstBucket = Calendar("date_trunc(@interval, @window_from::timestamptz AT TIME ZONE @tz)");
        var lastBucket = Calendar("date_trunc(@interval, (@window_until::timestamptz - interval '1 microsecond') AT TIME ZONE @tz)");
        var incidentBucket = Calendar(
            "date_trunc(@interval, CASE WHEN i.time_precision = 'exact' THEN i.occurred_at AT TIME ZONE @tz ELSE i.occurred_at AT TIME ZONE 'UTC' END)");
        var sql = $"""
            WITH span AS (
                -- An end at the edge of time (0001-01-01 is sent as -infinity) is an open end: the series
                -- then runs over the matching incidents, instead of from the beginning of time.
                SELECT CASE WHEN isfinite(@window_from::timestamptz) THEN {firstBucket} END AS first,
                       CASE WHEN isfinite(@window_until::timestamptz) THEN {lastBucket} END AS last
            ), matches AS (
                -- A date, week or month is a calendar period, not an instant: stored as its UTC midnight, it
                -- is the same local date in every time zone (March 2016 counts in March in New York too).
                SELECT least(greatest({incidentBucket}, coalesce(span.first, '-infinity')),
                             coalesce(span.last, 'infinity')) AS bucket,
                       {group} AS grp, i.fatalities_min, i.fatalities_max
                FROM incidents i, span
                WHERE {where}
            ), counted AS (
                -- Summed as the rows stream past, a row per bucket and group. Read by the CTEs below (more than
                -- once, so it is materialised), the matches themselves were kept whole and joined to the series:
                -- ten years of months over a million incidents took 1.8 s, now 1.0 s (the scan's 0.65 s of it).
                SELECT bucket, grp, count(*) AS n, sum(fatalities_min) AS fatalities_min, sum(fatalities_max) AS fatalities_max
                FROM matches
                GROUP BY bucket, grp
            ), bounds AS (
                SELECT coalesce(span.first, (SELECT min(bucket) FROM counted)) AS first,
                       coalesce(span.last, (SELECT max(bucket) FROM counted)) AS last
                FROM span
            ), buckets AS (
                -- In the select list the series is produced row by row, so LIMIT stops it; in FROM it
                -- would be built whole first.
                SELECT generate_series(first, last, ('1 ' || @interval)::interval) AS bucket
                FROM bounds
                LIMIT @max_buckets
            ), groups AS (
                {(groupBy is null ? "SELECT NULL::text AS grp" : "SELECT DISTINCT grp FROM counted")}
            )
            , size AS (
                SELECT (SELECT count(*) FROM buckets) * (SELECT count(*) FROM groups) AS cells
            )
            -- First the number of cells, then the cells, unless there are too many to answer: a
            -- span of days by admin1 could be tens of millions.
            SELECT NULL::timestamp AS start, NULL::text AS "group", cells AS count, NULL::bigint AS fatalitiesminsum, NULL::bigint AS fatalitiesmaxsum
            FROM size
            UNION ALL (
                SELECT b.bucket, g.grp, coalesce(c.n, 0),
                       c.fatalities_min::bigint, c.fatalities_max::bigint
                FROM buckets b CROSS JOIN groups g
                LEFT JOIN counted c ON c.bucket = b.bucket AND c.grp IS NOT DISTINCT FROM g.grp
                WHERE (SELECT cells FROM size) <= @max_cells
                ORDER BY b.bucket, g.grp NULLS FIRST
            )
            """;
        parameters.Add("max_cells", (long)MaxCells);
        var answer = await reader.ListAsync<Bucket>(sql, parameters, context.RequestAborted);
        var cells = answer.Single(r => r.Start is null).Count;
        if (cells > MaxCells)
            return NotAnswerable(context, Problem.BadParameter("group_by",
                $"would answer {cells} cells ({interval} buckets × groups; empty ones count too); the maximum is {MaxCells}: give a narrower datetime, a longer interval or filters that leave fewer groups"));
        var rows = answer.Where(r => r.Start is not null).ToList();
        // Without a closed window the span is the matching incidents' own, known only now.
        if (rows.Select(r => r.Start).Distinct().Count() > MaxBuckets)
            return NotAnswerable(context, Problem.BadParameter("datetime", $"with an open end the buckets run to the first or last matching incident: more than {MaxBuckets} {interval} buckets here; give a narrower datetime or a longer interval"));
        if (!answerable && Conditional.Evaluate(context, etag, Conditional.Revalidate) is { } revalidated) return revalidated;
        // Only now, the query run: a GET's status depends on it (a 503 when the database is down, the limits above).
        if (head) return Head(context, contentType);

        // Each bucket starts at the first instant of its local day, week or month (not always its
        // midnight: see TimeWindow.Local), the same rule datetime's dates follow.
        string Start(Bucket r) => Iso(TimeWindow.Local(r.Start!.Value, zone));
        // A date the zone skipped (Pacific/Apia went from 29 to 31 December 2011) starts where the next day does, so
        // its bucket is that day's: the incidents dated to it are counted there, and each start is listed once.
        rows = rows.GroupBy(r => (Start(r), r.Group))
            .Select(g => g.Skip(1).Aggregate(g.First(), (sum, r) => sum with
            {
                Count = sum.Count + r.Count,
                FatalitiesMinSum = sum.FatalitiesMinSum is null && r.FatalitiesMinSum is null ? null : (sum.FatalitiesMinSum ?? 0) + (r.FatalitiesMinSum ?? 0),
                FatalitiesMaxSum = sum.FatalitiesMaxSum is null && r.FatalitiesMaxSum is null ? null : (sum.FatalitiesMaxSum ?? 0) + (r.FatalitiesMaxSum ?? 0),
            }))
            .ToList();
        if (csv.Value)
        {
            var text = new StringBuilder("start,group,count,fatalities_min_sum,fatalities_max_sum\r\n");
            foreach (var r in rows)
                text.Append(Start(r)).Append(',').Append(Csv(r.Group)).Append(',').Append(r.Count).Append(',')
                    .Append(r.FatalitiesMinSum ?? 0).Append(',').Append(r.FatalitiesMaxSum ?? 0).Append("\r\n");
            return TypedResults.Text(text.ToString(), CsvType, Encoding.UTF8);
        }
        return TypedResults.Json(new StatsDoc(interval, tz, groupBy,
            rows.Select(r => new BucketDoc(Start(r), r.Group, (int)r.Count, r.FatalitiesMinSum ?? 0, r.FatalitiesMaxSum ?? 0)).ToArray()));
    }

    internal static async Task<IResult> GetSummary(HttpContext context, IncidentReader reader, DataVersion version)
    {
        var request = context.Request;
        if (QueryParser.Repeated(request.Query) is { } repeated) return repeated;
        var csv = WantsCsv(request);
        if (csv is null) return Problem.BadParameter("f", $"'{request.Query["f"]}' is not json or csv");
        context.Response.Headers.Vary = "Accept, Accept-Encoding";
        var (query, invalid) = await QueryParser.ParseFiltersAsync(request, "f");
        if (invalid is not null) return invalid;
        // The JSON keeps the tag it always had (pollers hold it); the CSV is other bytes, so another tag.
        var etag = Conditional.DataETag(version, query!, csv.Value ? "csv" : null);
        if (Conditional.Evaluate(context, etag, Conditional.Revalidate) is { } conditional) return conditional;

        var parameters = new DynamicParameters();
        var sql = SummarySql(query!, parameters);
        var json = await reader.ScalarAsync<string>(sql, parameters, context.RequestAborted);
        // After the query, as the GET's status depends on it (a 503 when the database is down).
        if (HttpMethods.IsHead(request.Method)) return Head(context, csv.Value ? CsvType : "application/json; charset=utf-8");
        return csv.Value
            ? TypedResults.Text(SummaryCsv(json!), CsvType, Encoding.UTF8)
            : TypedResults.Text(JsonText.Compact(json!), "application/json", Encoding.UTF8);
    }

    /// <summary>
    /// Whether the answer is CSV: f json or csv (any case, as /items takes its words); without f, Accept
    /// decides, as on /items (text/csv before any JSON type), between the two types offered here: a client
    /// that prefers NDJSON but accepts CSV gets CSV. Null for another f.
    /// </summary>
    private static bool? WantsCsv(HttpRequest request) => request.Query["f"].FirstOrDefault()?.ToLowerInvariant() switch
    {
        null => QueryParser.FormatFromAccept(request.Headers.Accept.ToString(), OutputFormat.GeoJson, OutputFormat.Csv) == OutputFormat.Csv,
        "json" => false,
        "csv" => true,
        _ => null,
    };

    /// <summary>The summary CSV's columns after <c>part</c>: what each part holds, in the JSON's order, a top place's count in <c>count</c>.</summary>
    private static readonly string[] SummaryColumns =
    [
        "count", "fatalities_min_sum", "fatalities_max_sum", "first", "last", // total
        "location_name", "country",                                          // top_place (and count)
        "id", "title", "occurred_at", "event_type", "fatalities_min", "fatalities_max", // latest
    ];

    /// <summary>
    /// The summary <paramref name="json"/> as one rectangular table, so a spreadsheet opens all of it from
    /// one file: a total row, a top_place row per place, a latest row per incident, each cell the JSON's
    /// value (numbers and times as written there; null and a column the part lacks, empty).
    /// </summary>
    internal static string SummaryCsv(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        var text = new StringBuilder("part,").AppendJoin(',', SummaryColumns).Append("\r\n");
        void Row(string part, JsonElement values)
        {
            text.Append(part);
            foreach (var column in SummaryColumns)
            {
                text.Append(',');
                if (!values.TryGetProperty(column, out var value)) continue;
                text.Append(value.ValueKind switch
                {
                    JsonValueKind.Null => "",
                    JsonValueKind.String => Csv(value.GetString()),
                    _ => value.GetRawText(),
                });
            }
            text.Append("\r\n");
        }
        Row("total", root);
        foreach (var place in root.GetProperty("top_places").EnumerateArray()) Row("top_place", place);
        foreach (var incident in root.GetProperty("latest").EnumerateArray()) Row("latest", incident);
        return text.ToString();
    }

    /// <summary>The summary's statement for <paramref name="query"/>, its parameters added to <paramref name="parameters"/>.</summary>
    internal static string SummarySql(IncidentQuery query, DynamicParameters parameters)
    {
        var where = string.Join("\n      AND ", IncidentSqlBuilder.Where(query, parameters));
        var latest = $"SELECT i.id, i.title, i.occurred_at, i.event_type, i.fatalities_min, i.fatalities_max FROM incidents i WHERE {where}";
        // One pass over the matches, grouped by place: the totals are sums over those groups, and the top
        // places are the largest of them. The latest five are a query of their own, which an index on
        // occurred_at serves when the filter keeps most incidents; with few matches (the count is known by
        // then: PostgreSQL runs only the branch of the CASE it takes), they are found as the places were and
        // sorted, for the walk of that index would read every incident for a tag in none (1.4 s a summary
        // on a million; the same trap as a page's, IncidentSqlBuilder.FewMatches). This replaced a CTE of whole rows
        // (i.*, the search document and three geometries included) that PostgreSQL materialised, because
        // seven subqueries read it, and then read seven times: over a million incidents it wrote 1 GB of
        // temporary files and took 7 s; now one (parallel) scan, about 2 s.
        return $$"""
            WITH places AS (
                SELECT i.location_name, i.country, count(*) AS count,
                       sum(i.fatalities_min) AS fatalities_min_sum, sum(i.fatalities_max) AS fatalities_max_sum,
                       min(i.occurred_at) AS first, max(i.occurred_at) AS last
                FROM incidents i WHERE {{where}}
                GROUP BY i.location_name, i.country
            )
            SELECT json_build_object(
                'count', (SELECT coalesce(sum(count), 0)::bigint FROM places),
                'fatalities_min_sum', (SELECT coalesce(sum(fatalities_min_sum), 0)::bigint FROM places),
                'fatalities_max_sum', (SELECT coalesce(sum(fatalities_max_sum), 0)::bigint FROM places),
                'first', (SELECT min(first) FROM places),
                'last', (SELECT max(last) FROM places),
                'top_places', (SELECT coalesce(json_agg(p), '[]') FROM (
                    SELECT location_name, country, count FROM places
                    WHERE location_name IS NOT NULL
                    ORDER BY count DESC, location_name LIMIT 10) p),
                'latest', CASE WHEN (SELECT coalesce(sum(count), 0) FROM places) <= {{IncidentSqlBuilder.FewMatches}}
                    THEN (SELECT coalesce(json_agg(l), '[]') FROM (
                        SELECT * FROM ({{latest}} OFFSET 0) m ORDER BY m.occurred_at DESC, m.id DESC LIMIT 5) l)
                    ELSE (SELECT coalesce(json_agg(l), '[]') FROM (
                        {{latest}} ORDER BY i.occurred_at DESC, i.id DESC LIMIT 5) l) END)::text
            """;
    }

    private const string CsvType = "text/csv; charset=utf-8; header=present";

    /// <summary>
    /// A bucket's wall-clock start kept within the calendar .NET reads (years 1 to 9999): the first instants
    /// of year 1 are still 31 December of 1 BC west of Greenwich (Abidjan's local mean time, Santiago), a
    /// bucket Npgsql cannot read into a DateTime, and the request was a 500. Such an edge bucket is counted
    /// as the calendar's first (or last) bucket, whose start TimeWindow.Local clamps the same way. The last is
    /// the one holding 9999-12-31: the 1st of its month, the Monday of its week. Clamped to the day itself, an
    /// incident late on 31 December 9999 UTC (10000 in Kiritimati) fell in no month's or week's bucket of
    /// the series, and the buckets no longer added up to the matching incidents.
    /// </summary>
    private static string Calendar(string wallClock) =>
        $"least(greatest({wallClock}, '0001-01-01 00:00'::timestamp), date_trunc(@interval, '9999-12-31 00:00'::timestamp))";

    /// <summary>The wall-clock start of the last bucket (the one holding 9999-12-31), as <see cref="Calendar"/> clamps.</summary>
    private static DateTime LastBucket(string interval) => Truncate(interval, new DateTime(9999, 12, 31));

    /// <summary>date_trunc of a wall-clock time: its day, the Monday of its (ISO) week, the 1st of its month.</summary>
    private static DateTime Truncate(string interval, DateTime wallClock) => interval switch
    {
        "day" => wallClock.Date,
        "week" => wallClock.Date.AddDays(-(((int)wallClock.DayOfWeek + 6) % 7)),
        _ => new DateTime(wallClock.Year, wallClock.Month, 1),
    };

    /// <summary>
    /// The buckets of the closed window [<paramref name="from"/>, <paramref name="until"/>) in <paramref name="zone"/>,
    /// as the query's series runs: from the bucket of <paramref name="from"/>'s wall-clock time to the bucket of the
    /// window's last microsecond's, both included and kept within the calendar (<see cref="Calendar"/>; a wall-clock
    /// time before year 1 is read as its first instant, whose bucket is year 1's first too). None when the last
    /// starts before the first (a fall-back across midnight can put a window's end on the day before its start).
    /// </summary>
    internal static long BucketCount(string interval, DateTimeOffset from, DateTimeOffset until, TimeZoneInfo zone)
    {
        var last = LastBucket(interval);
        DateTime Bucket(DateTimeOffset at) => Truncate(interval, TimeWindow.WallClock(at, zone)) is var start && start > last ? last : start;
        var (first, final) = (Bucket(from), Bucket(until - TimeSpan.FromTicks(10)));
        if (final < first) return 0;
        return interval switch
        {
            "day" => (final - first).Days + 1,
            "week" => (final - first).Days / 7 + 1,
            _ => (final.Year - first.Year) * 12L + final.Month - first.Month + 1,
        };
    }

    /// <summary>The largest distance of a time zone from UTC (UTC+14, Kiribati; UTC−12).</summary>
    private static readonly TimeSpan MaxOffset = TimeSpan.FromHours(14);

    private static DateTimeOffset? Shift(DateTimeOffset? at, TimeSpan by) => at switch
    {
        null => null,
        { } t when by < TimeSpan.Zero && t - DateTimeOffset.MinValue < -by => DateTimeOffset.MinValue,
        { } t when by > TimeSpan.Zero && DateTimeOffset.MaxValue - t < by => DateTimeOffset.MaxValue,
        { } t => t + by,
    };

    /// <summary>
    /// In the window [@window_from, @window_until): an exact incident by its instants (as the filters
    /// decide without a time zone); a dated one by its dates on the calendar of @tz, the stored UTC
    /// dates read as that calendar's (as its bucket is).
    /// </summary>
    private const string InWindow = """
        (CASE WHEN i.time_precision = 'exact'
              THEN (@window_from::timestamptz IS NULL OR i.occurred_until > @window_from OR i.occurred_at >= @window_from)
                   AND (@window_until::timestamptz IS NULL OR i.occurred_at < @window_until)
              ELSE (@window_from::timestamptz IS NULL OR i.occurred_until AT TIME ZONE 'UTC' > @window_from::timestamptz AT TIME ZONE @tz)
                   AND (@window_until::timestamptz IS NULL OR i.occurred_at AT TIME ZONE 'UTC' < @window_until::timestamptz AT TIME ZONE @tz)
         END)
        """;

    private static string Iso(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>HEAD: the headers GET would send (ETag, Cache-Control, Vary, Content-Type), no body.</summary>
    private static IResult Head(HttpContext context, string contentType)
    {
        context.Response.ContentType = contentType;
        return TypedResults.Ok();
    }

    /// <summary>A 400 found only by running the query: no ETag on it, which a client could send back for a 304.</summary>
    private static IResult NotAnswerable(HttpContext context, IResult problem)
    {
        context.Response.Headers.Remove(Microsoft.Net.Http.Headers.HeaderNames.ETag);
        return problem;
    }

    private static string Csv(string? value)
    {
        if (value is null) return "";
        // Defused as the item exports are: an admin1 of =cmd|… or a title of =HYPERLINK(…) is text.
        if (value.Length > 0 && value[0] < 0x80 && IncidentRowWriter.FormulaStart.Contains((byte)value[0])) value = "'" + value;
        return value.IndexOfAny([',', '"', '\r', '\n']) >= 0 ? "\"" + value.Replace("\"", "\"\"") + "\"" : value;
    }

    /// <summary>A bucket: its start as local wall-clock time in tz.</summary>
    private sealed record Bucket(DateTime? Start, string? Group, long Count, long? FatalitiesMinSum, long? FatalitiesMaxSum);
}

/// <summary>A time series: one row per bucket and group.</summary>
public sealed record StatsDoc(
    [property: JsonPropertyName("interval")] string Interval,
    [property: JsonPropertyName("time_zone")] string TimeZone,
    [property: JsonPropertyName("group_by")] string? GroupBy,
    [property: JsonPropertyName("buckets")] BucketDoc[] Buckets);

public sealed record BucketDoc(
    [property: JsonPropertyName("start")] string Start,
    [property: JsonPropertyName("group")] string? Group,
    [property: JsonPropertyName("count")] int Count,
    [property: JsonPropertyName("fatalities_min_sum")] long FatalitiesMinSum,
    [property: JsonPropertyName("fatalities_max_sum")] long FatalitiesMaxSum);

public sealed record PlaceCountDoc(
    [property: JsonPropertyName("location_name")] string LocationName,
    [property: JsonPropertyName("country")] string? Country,
    [property: JsonPropertyName("count")] long Count);

public sealed record LatestDoc(
    [property: JsonPropertyName("id")] long Id,
    [property: JsonPropertyName("title")] string Title,
    [property: JsonPropertyName("occurred_at")] DateTimeOffset OccurredAt,
    [property: JsonPropertyName("event_type")] string EventType,
    [property: JsonPropertyName("fatalities_min")] int? FatalitiesMin,
    [property: JsonPropertyName("fatalities_max")] int? FatalitiesMax);

/// <summary>Totals, the ten places with most incidents, and the five latest incidents.</summary>
public sealed record SummaryDoc(
    [property: JsonPropertyName("count")] long Count,
    [property: JsonPropertyName("fatalities_min_sum")] long FatalitiesMinSum,
    [property: JsonPropertyName("fatalities_max_sum")] long FatalitiesMaxSum,
    [property: JsonPropertyName("first")] DateTimeOffset? First,
    [property: JsonPropertyName("last")] DateTimeOffset? Last,
    [property: JsonPropertyName("top_places")] PlaceCountDoc[] TopPlaces,
    [property: JsonPropertyName("latest")] LatestDoc[] Latest);
