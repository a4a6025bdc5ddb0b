using System.Globalization;
using System.Text;
using Microsoft.Extensions.Caching.Memory;
using IncidentMap.Api.Incidents;
using IncidentMap.Api.Problems;
using NetTopologySuite.Geometries;

namespace IncidentMap.Api.Querying;

/// <summary>
/// Turns request parameters (query string, or the members of a search body) into an
/// <see cref="IncidentQuery"/>, or into 400 problems naming each bad parameter.
/// </summary>
public static partial class QueryParser
{
    /// <summary>
    /// A page size: a whole number of at least 1, clamped to <paramref name="max"/>; a number too
    /// large for int is still a number, and clamped like any other large limit.
    /// </summary>
    public static bool TryLimit(string text, int max, out int limit)
    {
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out limit) && limit >= 1)
        {
            limit = Math.Min(limit, max);
            return true;
        }
        limit = max;
        return text.Length > 9 && text.All(char.IsAsciiDigit) && text.TrimStart('0').Length > 9;
    }

    public static string LimitError(string text) => $"'{text}' is not a whole number of at least 1";

    /// <summary>CRS84 as a safe CURIE (OGC API – Features Part 2), beside its URI <see cref="Collections.Conformance.Crs84"/>.</summary>
    public const string Crs84Curie = "[OGC:CRS84]";

    /// <summary>
    /// A hyphenated word outside quotes (<c>sayyida-zaynab</c>) searched as the phrase of its parts
    /// (<c>"sayyida zaynab"</c>). PostgreSQL's parser reads it as a compound lexeme followed by its parts, and
    /// looks for all three in a row, which a text writing the words apart ("Sayyida Zaynab") never holds; a text
    /// writing them hyphenated holds the parts in a row too, so it is still found. A negated one (<c>-al-bab</c>) is the
    /// negated phrase (<c>-"al bab"</c>), so it excludes exactly what the word finds (as written, it excluded only text
    /// holding the compound, which "Al Bab" lacks). Words inside quotes are left as written. Words are separated by any
    /// white space (<see cref="Words"/>).
    /// </summary>
    internal static string PhraseHyphenated(string q)
    {
        if (!q.Contains('-')) return q;
        var words = Words(q);
        var quoted = false;
        for (var i = 0; i < words.Length; i++)
        {
            var word = words[i];
            var inPhrase = quoted;
            if (word.Count(c => c == '"') % 2 == 1) quoted = !quoted;
            var negated = word.StartsWith('-');
            var parts = negated ? word[1..] : word;
            if (inPhrase || word.Contains('"') || !InnerHyphen().IsMatch(parts)) continue;
            words[i] = (negated ? "-" : "") + "\"" + parts.Replace('-', ' ') + "\"";
        }
        return string.Join(' ', words);
    }

    /// <summary>
    /// The words of a <c>q</c>, separated by any white space (a tab, a line break, a no-break space pasted from a form), as
    /// PostgreSQL's parser separates them: split on spaces only, <c>shrine\tsayyida-zaynab</c> was one hyphenated word,
    /// searched as the phrase "shrine sayyida zaynab".
    /// </summary>
    internal static string[] Words(string q) => q.Trim() is { Length: > 0 } trimmed ? WhiteSpace().Split(trimmed) : [];

    [System.Text.RegularExpressions.GeneratedRegex(@"\s+")]
    private static partial System.Text.RegularExpressions.Regex WhiteSpace();

    [System.Text.RegularExpressions.GeneratedRegex(@"[\p{L}\p{N}]-[\p{L}\p{N}]")]
    private static partial System.Text.RegularExpressions.Regex InnerHyphen();

    [System.Text.RegularExpressions.GeneratedRegex("-{2,}")]
    private static partial System.Text.RegularExpressions.Regex MultipleMinus();

    private static readonly GeometryFactory Factory = new(new PrecisionModel(), 4326);

    /// <summary>Every parameter the incident list understands, with its one-line meaning (documented in OpenAPI).</summary>
    public static readonly IReadOnlyDictionary<string, string> Parameters = new Dictionary<string, string>
    {
        ["limit"] = "Features per page: 1 to 10000, default 10 for GeoJSON; CSV and sequences return every match unless limited. Larger values are clamped.",
        ["cursor"] = "Opaque position from a `next` link.",
        ["f"] = "Format: json (GeoJSON), csv, geojsonseq (RFC 8142) or ndjson. Overrides Accept.",
        ["bbox"] = "minLon,minLat,maxLon,maxLat (WGS 84): incidents intersecting the box. minLon > maxLon crosses the antimeridian. Six numbers add a height range (minLon,minLat,minHeight,maxLon,maxLat,maxHeight), which 2D incidents all meet.",
        ["bbox-crs"] = "Only http://www.opengis.net/def/crs/OGC/1.3/CRS84 or [OGC:CRS84] (lon/lat), the default.",
        ["datetime"] = "RFC 3339 instant, date, or interval a/b (.. or empty = open; a date as end includes the whole day); durations such as PT24H/now or P1M/2016-02-29.",
        ["lat"] = "Latitude of the radius search centre (needs lon and radius).",
        ["lon"] = "Longitude of the radius search centre (needs lat and radius).",
        ["near"] = "A place name instead of lat/lon (e.g. near=Homs&radius=50km; add near_country= when the name is ambiguous).",
        ["near_country"] = "ISO 3166-1 alpha-2 code choosing the place of near= among places of that name; unlike country=, it does not filter the incidents.",
        ["radius"] = "Radius around lat/lon: metres, or with unit m, km or mi (25km, 10mi). Geodesic. At most 1000 km.",
        ["sortby"] = "Comma list of occurred_at, updated_at, created_at, id, fatalities, title, distance (or distance_m); prefix one - for descending (or + for ascending, the default). Default -occurred_at.",
        ["properties"] = "Comma list of properties to return (default all).",
        ["precision"] = "Decimal places of coordinates, 0 to 15. Without it, JSON answers (a GeoJSON page, the change feed) give 7; CSV and sequences (f=csv, geojsonseq, ndjson) give coordinates as stored, so an export imports back unchanged.",
        ["count"] = "true to compute numberMatched (exact) on every page, false never; default: first page only.",
        ["filter"] = "A CQL2 filter (OGC API – Features Part 3) over the queryables, e.g. fatalities_max > 50 AND S_INTERSECTS(geometry, BBOX(35,33,38,36)). " +
                     $"At most {Filtering.Limits.MaxLength} characters, {Filtering.Limits.MaxTerms} terms and {Filtering.Limits.MaxDepth} levels deep, " +
                     $"and at most {Filtering.Limits.MaxFoldedProperties} properties made case- or accent-insensitive " +
                     "(CASEI, ACCENTI: each is folded in every row read; use q for words, an IN list for several values of one property), " +
                     $"and geometries of at most {IncidentQuery.MaxShapeVertices} vertices; a 400 names the position of what is over a limit.",
        ["filter-lang"] = "cql2-text (default) or cql2-json.",
        ["filter-crs"] = "Only http://www.opengis.net/def/crs/OGC/1.3/CRS84 or [OGC:CRS84] (lon/lat), the default.",
        ["q"] = "Full-text search over title, summary, place (location_name, admin1–3) and actors (websearch syntax: words, \"phrases\", OR, -word; a hyphenated word is the phrase of its parts); English stemming, case and accents ignored (emeute finds Émeute). At most 500 characters and 50 words (every word separated by white space counts, OR and common words included).",
        ["event_type"] = $"Any of these event types (comma list of at most {MaxListValues}).",
        ["sub_event_type"] = $"This sub-event type, the whole value (repeat the parameter for any of several, at most {MaxListValues}).",
        ["country"] = $"Any of these ISO 3166-1 alpha-2 codes (comma list of at most {MaxListValues}; XK for Kosovo).",
        ["admin1"] = $"This first-level administrative division, the whole value (repeat the parameter for any of several, at most {MaxListValues}).",
        ["status"] = $"Any of these statuses (comma list of at most {MaxListValues}).",
        ["time_precision"] = $"Any of these time precisions: exact, day, week, month (comma list of at most {MaxListValues}).",
        ["geo_precision"] = $"Any of these geographic precisions: exact, near, town, region, country (comma list of at most {MaxListValues}).",
        ["location_name"] = $"This location name, the whole value exactly as stored, commas included (repeat the parameter for any of several, at most {MaxListValues}; near= searches by place instead).",
        ["admin2"] = $"This second-level administrative division, the whole value (repeat the parameter for any of several, at most {MaxListValues}).",
        ["admin3"] = $"This third-level administrative division, the whole value (repeat the parameter for any of several, at most {MaxListValues}).",
        ["external_id"] = $"This external id, e.g. an ACLED event id (repeat the parameter for any of several, at most {MaxListValues}).",
        ["tags"] = $"Incidents with this tag, the whole value (repeat the parameter for any of several, at most {MaxListValues}).",
        ["claimed_by"] = $"Claimed by this, the whole value (repeat the parameter for any of several, at most {MaxListValues}).",
        ["actors"] = $"Involving this actor, the whole value (repeat the parameter for any of several, at most {MaxListValues}).",
        ["fatalities"] = "Incidents whose toll may lie in a..b (50.. = at least 50, ..10 = at most 10, 10..50, or one number): their [fatalities_min, fatalities_max] overlaps it. Unknown tolls never match.",
        ["fatalities_min"] = $"Incidents whose fatalities_min is any of these (comma list of at most {MaxListValues} whole numbers); for a range of tolls use fatalities=a..b.",
        ["fatalities_max"] = $"Incidents whose fatalities_max is any of these (comma list of at most {MaxListValues} whole numbers); for a range of tolls use fatalities=a..b.",
    };

    /// <summary>Parameters that shape a page of items rather than select incidents.</summary>
    public static readonly HashSet<string> PageParameters = ["limit", "cursor", "f", "sortby", "properties", "precision", "count"];

    /// <summary>
    /// Free-text properties as parameters: equality on the whole value, commas included (OGC API –
    /// Features: GDAL sends location_name=al-Zahraa, Homs for -where "location_name = 'al-Zahraa, Homs'"
    /// and trusts the answer). Repeating one asks for any of the values.
    /// </summary>
    public static readonly HashSet<string> WholeValues =
        ["sub_event_type", "admin1", "admin2", "admin3", "location_name", "external_id", "tags", "claimed_by", "actors"];

    /// <summary>Between the values of a repeated whole-value parameter, where a value's own commas are not.</summary>
    public const char ValueSeparator = '\u001F';

    /// <summary>The parameters that take comma lists (codes and numbers, which hold no comma), and so may also be repeated; and the whole-value ones, which may be repeated.</summary>
    private static readonly HashSet<string> Lists =
        ["event_type", "country", "status", "fatalities_min", "fatalities_max", "properties", "sortby", "time_precision", "geo_precision", .. WholeValues];

    /// <summary>Whether a parameter may be given more than once (a comma list or a whole-value one); any other given twice is a 400.</summary>
    public static bool MayRepeat(string name) => Lists.Contains(name);

    /// <summary>
    /// The most values a list parameter may hold, commas and repeats together (and the most strings in an array a CQL2
    /// array function compares with tags or actors). Each value costs something in every row an any-of tests where no
    /// index finds the matches first: a walk of the time index for tags in no incident tests each row against every
    /// value (on the bench's million rows 1.4 s for one tag, 2.8 s for 100, 34 s for 1,000, past the statement
    /// timeout). No client needs more: a map's legend or a dashboard's picker offers tens; for more, split the request
    /// or filter more broadly.
    /// </summary>
    public const int MaxListValues = 100;

    /// <summary>The values of parameters given more than once, as <see cref="Parse"/> reads them: a comma list, or whole values apart.</summary>
    public static string Joined(string name, IEnumerable<string?> values) =>
        string.Join(WholeValues.Contains(name) ? ValueSeparator : ',', values);

    /// <summary>Why a value may not hold the character that keeps whole values apart (it would split one value in two).</summary>
    public const string SeparatorHeld = "contains the control character U+001F, which no value may hold";

    /// <summary>Whether a value holds <see cref="ValueSeparator"/> (see <see cref="SeparatorHeld"/>).</summary>
    public static bool HoldsSeparator(IEnumerable<string?> values) => values.Any(v => v?.Contains(ValueSeparator) == true);

    /// <param name="calendarZone">Where a date or month in datetime is a day or month (the stats' tz); null: UTC.</param>
    public static (IncidentQuery? Query, List<FieldError> Errors) Parse(
        IReadOnlyDictionary<string, string> values, DateTimeOffset now, string? accept = null, Geometry? intersects = null,
        TimeZoneInfo? calendarZone = null)
    {
        var errors = new List<FieldError>();
        void Bad(string name, string detail) => errors.Add(new FieldError(name, detail));
        // A list refused for its members is not read again: 20,000 tags are one error, not one and then 20,000 values.
        var refusedLists = new HashSet<string>(StringComparer.Ordinal);
        string? Get(string name) => values.TryGetValue(name, out var v) && !refusedLists.Contains(name) ? v : null;

        foreach (var (key, value) in values)
        {
            if (!Parameters.ContainsKey(key))
                Bad(key, Problem.NotAParameter);
            else if (!IncidentInput.IsStorableText(value))
                Bad(key, "contains a NUL character or invalid Unicode");
            else if (Lists.Contains(key) && ListError(key, value) is { } listError)
            {
                Bad(key, listError);
                refusedLists.Add(key);
            }
        }
        // The values of a whole-value parameter, each as given and in its composed and decomposed forms
        // (NFC, NFD): "Ḥimṣ" typed on one system equals "Ḥimṣ" stored from another, as canonically
        // equivalent text should, while the comparison stays equality (and index lookups) in SQL.
        List<string>? Whole(string name) => Get(name) is { } text
            ? text.Split(ValueSeparator).Where(v => !string.IsNullOrWhiteSpace(v))
                .SelectMany(v => new[] { v, v.Normalize(NormalizationForm.FormC), v.Normalize(NormalizationForm.FormD) }).Distinct().ToList()
            : null;

        var query = new IncidentQuery { Intersects = intersects };

        var format = Get("f") is { } f ? ParseFormat(f) : FormatFromAccept(accept);
        if (format is null) Bad("f", $"'{Get("f")}' is not a format here: json, csv, geojsonseq or ndjson");
        else query = query with { Format = format.Value, Limit = format == OutputFormat.GeoJson ? IncidentQuery.DefaultLimit : null };

        if (Get("limit") is { } limitText)
        {
            // Pages are clamped; an export (CSV, sequences) streams whatever it is asked for, so it
            // gives the first `limit` rows however many (a clamp there cut exports short silently).
            var most = query.Format == OutputFormat.GeoJson ? IncidentQuery.MaxLimit : int.MaxValue;
            if (TryLimit(limitText, most, out var limit)) query = query with { Limit = limit };
            else Bad("limit", LimitError(limitText));
        }

        foreach (var name in new[] { "bbox-crs", "filter-crs" })
        {
            if (Get(name) is { } crs && crs is not (Collections.Conformance.Crs84 or Crs84Curie))
                Bad(name, $"'{crs}' is not offered; only CRS84 ({Collections.Conformance.Crs84}, or {Crs84Curie}: longitude, latitude) is offered");
        }

        if (Get("bbox") is { } bboxText)
        {
            var boxes = ParseBbox(bboxText, out var bboxError);
            if (boxes is null) Bad("bbox", bboxError);
            else query = query with { Bbox = boxes };
        }

        var (lat, lon, radius) = (Get("lat"), Get("lon"), Get("radius"));
        if (lat is not null || lon is not null || radius is not null)
        {
            if (lat is null || lon is null)
                Bad(lat is null ? "lat" : "lon", "a radius search needs lat, lon and radius");
            else if (!TryNumber(lat, out var y) || y is < -90 or > 90) Bad("lat", $"'{lat}' is not a latitude between -90 and 90");
            else if (!TryNumber(lon, out var x) || x is < -180 or > 180) Bad("lon", $"'{lon}' is not a longitude between -180 and 180");
            else
            {
                query = query with { Near = Factory.CreatePoint(new Coordinate(x, y)) };
                if (radius is null)
                {
                    if (Get("sortby")?.Contains("distance") != true)
                        Bad("radius", Get("near") is null ? "a radius search needs lat, lon and radius" : "near= needs a radius too (near=Homs&radius=50km)");
                }
                else if (!TryDistance(radius, out var metres)) Bad("radius", $"'{radius}' is not a distance: a number of metres, or with unit m, km or mi (25km)");
                else if (metres <= 0) Bad("radius", "must be greater than 0");
                else if (metres > IncidentQuery.MaxRadiusMetres) Bad("radius", $"'{radius}' is over the maximum of {IncidentQuery.MaxRadiusMetres / 1000:0} km; use bbox for larger areas");
                else query = query with { RadiusMetres = metres };
            }
        }

        if (Get("datetime") is { } datetime)
        {
            // A window that moves with the clock is resolved against the current whole second, which
            // the list's ETag then names: the same URL polled a second later is another answer.
            DateTimeOffset? relativeTo = TimeWindow.IsRelative(datetime) ? now.AddTicks(-(now.UtcTicks % TimeSpan.TicksPerSecond)) : null;
            if (datetime.Split('/').Select(end => end.Trim()).FirstOrDefault(Rfc3339.IsFinerThanMicroseconds) is { } fine)
                Bad("datetime", $"'{fine}' {Rfc3339.FinerThanMicroseconds}");
            // RFC 3339's leap second is a date-time, just not one PostgreSQL (or .NET) holds: said as such, not "not an RFC 3339 date-time".
            else if (datetime.Split('/').Select(end => end.Trim()).FirstOrDefault(end => Rfc3339.LeapSecond(end) is not null) is { } leap)
                Bad("datetime", $"'{leap}' {Rfc3339.LeapSecond(leap)}");
            else if (!TimeWindow.TryParse(datetime, relativeTo ?? now, out var from, out var until, out var error, calendarZone)) Bad("datetime", error);
            else query = query with { From = from, Until = until, RelativeTo = relativeTo };
        }

        query = query with
        {
            EventTypes = Vocabulary(Get("event_type"), "event_type", Incidents.Vocabulary.EventTypes, errors),
            Statuses = Vocabulary(Get("status"), "status", Incidents.Vocabulary.Statuses, errors),
            TimePrecisions = Vocabulary(Get("time_precision"), "time_precision", Incidents.Vocabulary.TimePrecisions, errors),
            GeoPrecisions = Vocabulary(Get("geo_precision"), "geo_precision", Incidents.Vocabulary.GeoPrecisions, errors),
            LocationNames = Whole("location_name"),
            Admin2 = Whole("admin2"),
            Admin3 = Whole("admin3"),
            ExternalIds = Whole("external_id"),
            Countries = CountryList(Get("country"), errors),
            SubEventTypes = Whole("sub_event_type"),
            Admin1 = Whole("admin1"),
            Tags = Whole("tags"),
            ClaimedBy = Whole("claimed_by"),
            Actors = Whole("actors"),
            FatalitiesMin = Counts(Get("fatalities_min"), "fatalities_min", errors),
            FatalitiesMax = Counts(Get("fatalities_max"), "fatalities_max", errors),
        };
        if (Get("fatalities") is { } toll)
        {
            if (TollRange(toll) is { } range) query = query with { FatalitiesAtLeast = range.From, FatalitiesAtMost = range.To };
            else if (toll.Split("..").Select(b => b.Trim()).FirstOrDefault(b => b.Length > 0 && b.All(char.IsAsciiDigit) && !int.TryParse(b, out _)) is { } huge)
                Bad("fatalities", TooLarge(huge));
            else Bad("fatalities", $"'{toll}' is not a toll range: a..b, a.., ..b or one number, whole numbers from 0 with a <= b (e.g. 50..)");
        }

        if (Get("filter") is { } filterText)
        {
            var lang = Get("filter-lang") ?? Filtering.Cql2.TextLanguage;
            var (compiled, error) = Filtering.Cql2.Compile(filterText, lang);
            // '{' never starts CQL2 text: that is CQL2 JSON sent without its language.
            var hint = error is { Position: 0 } && lang == Filtering.Cql2.TextLanguage && filterText.StartsWith('{')
                ? $" (a cql2-json filter needs filter-lang={Filtering.Cql2.JsonLanguage})" : "";
            if (error is not null)
                Bad(error.Message.StartsWith("filter-lang", StringComparison.Ordinal) ? "filter-lang" : "filter",
                    error.Position >= 0 ? $"at position {error.Position}: {error.Message}{hint}" : error.Message);
            else query = query with { Filter = compiled };
        }
        // A language without a filter filters nothing (clients often send the default along); a wrong one is still wrong.
        else if (Get("filter-lang") is { } lang && lang != Filtering.Cql2.TextLanguage && lang != Filtering.Cql2.JsonLanguage)
            Bad("filter-lang", $"'{lang}' is not supported; use {Filtering.Cql2.TextLanguage} or {Filtering.Cql2.JsonLanguage}");

        if (Get("q") is { } q)
        {
            // A run of "-" nests negations: PostgreSQL's tsquery parser runs out of stack at ~32.
            q = MultipleMinus().Replace(q, "-");
            if (string.IsNullOrWhiteSpace(q)) Bad("q", "must not be empty");
            else if (IncidentInput.Characters(q) > 500) Bad("q", "is longer than 500 characters");
            else if (Words(q).Length > 50) Bad("q", "has more than 50 words (separated by white space; OR and common words count too)");
            else query = query with { Text = PhraseHyphenated(q) };
        }

        if (Get("sortby") is { } sortby)
        {
            var sort = new List<SortOrder>();
            foreach (var raw in sortby.Split(',', StringSplitOptions.TrimEntries))
            {
                // One sign at most: - descends, + ascends (a + sent unencoded arrives as a space, trimmed above).
                var descending = raw.StartsWith('-');
                var name = raw.StartsWith('-') || raw.StartsWith('+') ? raw[1..] : raw;
                if (name.Length > 0 && (name[0] is '-' or '+' || char.IsWhiteSpace(name[0])))
                    Bad("sortby", $"'{raw}' is not a sort key: give a field, after one - (descending) or + (ascending) at most");
                else if (!SortFields.All.TryGetValue(name, out var field))
                    Bad("sortby", $"'{name}' is not sortable; use {string.Join(", ", SortFields.All.Keys)}");
                else if (field.NeedsPoint && query.Near is null)
                    Bad("sortby", "distance needs a point: give lat and lon");
                else if (sort.Any(s => s.Field == name))
                    Bad("sortby", $"'{name}' is given twice");
                else sort.Add(new SortOrder(name, descending));
            }
            if (sort.Count > 0) query = query with { Sort = sort };
        }

        if (Get("properties") is { } props)
        {
            var names = props.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Distinct().ToList();
            var unknown = names.Where(n => !Columns.ByName.ContainsKey(n) && n != Columns.Distance.Name).ToList();
            if (unknown.Count > 0) Bad("properties", $"unknown: {string.Join(", ", unknown.Select(FieldError.Quoted))}");
            else if (names.Contains(Columns.Distance.Name) && query.Near is null) Bad("properties", "distance_m needs a point: give lat and lon");
            else query = query with { Properties = names };
        }

        if (Get("precision") is { } precisionText)
        {
            if (!int.TryParse(precisionText, NumberStyles.None, CultureInfo.InvariantCulture, out var precision) || precision > 15)
                Bad("precision", $"'{precisionText}' is not a whole number from 0 to 15");
            else query = query with { Precision = precision };
        }
        // An export (CSV, sequences) is a copy of the data: coordinates as stored unless asked otherwise,
        // so that it imports back unchanged. Pages for maps keep 7 decimals (1 cm).
        else if (query.Format != OutputFormat.GeoJson) query = query with { Precision = IncidentQuery.StoredPrecision };

        if (Get("cursor") is { } cursorText)
        {
            if (!PageCursor.TryDecode(cursorText, out var after) || !IncidentSqlBuilder.CursorMatches(after!, query.Sort))
                Bad("cursor", "is not a cursor issued for this sort order; follow the `next` link as given");
            else query = query with { After = after };
        }

        switch (Get("count"))
        {
            case null: query = query with { Count = query.After is null && query.Format == OutputFormat.GeoJson }; break;
            case "true": query = query with { Count = true }; break;
            case "false": break;
            case var other: Bad("count", $"'{other}' is not true or false"); break;
        }

        return errors.Count > 0 ? (null, errors) : (query, errors);
    }

    /// <summary>
    /// The incident filters of a request's query string; <paramref name="own"/> names the endpoint's
    /// own parameters, which are left to it. Null, or the 400 problem naming each bad parameter.
    /// </summary>
    public static Task<(IncidentQuery? Query, IResult? Problem)> ParseFiltersAsync(HttpRequest request, params string[] own) =>
        ParseRequestAsync(request, useAccept: false, own);

    /// <summary>As <see cref="ParseFiltersAsync(HttpRequest, string[])"/>, with dates and months in datetime read as days and months of <paramref name="calendarZone"/>.</summary>
    public static Task<(IncidentQuery? Query, IResult? Problem)> ParseFiltersAsync(HttpRequest request, TimeZoneInfo calendarZone, params string[] own) =>
        ParseRequestAsync(request, useAccept: false, own, calendarZone);

    /// <summary>As <see cref="ParseFiltersAsync(HttpRequest, string[])"/>; with <paramref name="useAccept"/> the Accept header chooses the format when f does not.</summary>
    public static Task<(IncidentQuery? Query, IResult? Problem)> ParseRequestAsync(HttpRequest request, bool useAccept, params string[] own) =>
        ParseRequestAsync(request, useAccept, own, calendarZone: null);

    /// <summary>
    /// The 400 naming a parameter given more than once, or null. Repeating a list parameter adds to its list
    /// (event_type=a&amp;event_type=b); any other given twice is a mistake. Endpoints that read parameters of their
    /// own before the filters ask this first: zoom=3&amp;zoom=4 was read as '3,4', "not a zoom level".
    /// </summary>
    public static IResult? Repeated(IQueryCollection query) =>
        query.FirstOrDefault(p => p.Value.Count > 1 && !Lists.Contains(p.Key)) is { Key: not null } repeated
            ? Problem.BadParameter(repeated.Key, $"is given {repeated.Value.Count} times; give it once")
            : null;

    private static async Task<(IncidentQuery? Query, IResult? Problem)> ParseRequestAsync(HttpRequest request, bool useAccept, string[] own, TimeZoneInfo? calendarZone)
    {
        if (Repeated(request.Query) is { } repeated) return (null, repeated);
        if (request.Query.FirstOrDefault(p => HoldsSeparator(p.Value)) is { Key: not null } separated)
            return (null, Problem.BadParameter(separated.Key, SeparatorHeld));
        var values = request.Query.Where(p => !own.Contains(p.Key))
            .ToDictionary(p => p.Key, p => Joined(p.Key, p.Value), StringComparer.Ordinal);
        // Page and format parameters (limit, f, sortby …) only where the endpoint's metadata takes them.
        var page = request.HttpContext.GetEndpoint()?.Metadata.GetMetadata<Incidents.QueryParametersMetadata>()?.Page;
        if (page is not null && values.Keys.FirstOrDefault(k => PageParameters.Contains(k) && !page.Contains(k)) is { } notHere)
            return (null, Problem.BadParameter(notHere, Problem.NotAParameter));
        var gazetteer = request.HttpContext.RequestServices.GetRequiredService<Places.Gazetteer>();
        if (await Places.NearParameter.ResolveAsync(values, gazetteer, request.HttpContext.RequestAborted) is { } near) return (null, near);
        var (query, errors) = Parse(values, DateTimeOffset.UtcNow, useAccept ? request.Headers.Accept.ToString() : null, calendarZone: calendarZone);
        if (query is null) return (null, Problem.Validation(errors, StatusCodes.Status400BadRequest));
        return await SearchableTextAsync(query, request.HttpContext) is { } empty ? (null, empty) : (query, null);
    }

    /// <summary>What the text search answer cache holds for a q PostgreSQL's parser refuses.</summary>
    private const int TooComplex = -1;

    /// <summary>
    /// A 400 naming q when its words are all stop words ("the", "of the"): PostgreSQL drops such a
    /// query with a notice and matches nothing, which reads as "no incidents" rather than "no words".
    /// </summary>
    public static async Task<IResult?> SearchableTextAsync(IncidentQuery query, HttpContext context)
    {
        if (query.Text is not { } text) return null;
        // The answer never changes for a text, and a dashboard or a map repeats its q on every poll or
        // tile: asked of PostgreSQL once, not once per request.
        var cache = context.RequestServices.GetRequiredService<IMemoryCache>();
        var key = "q-terms:" + text;
        if (!cache.TryGetValue(key, out int terms))
        {
            var reader = context.RequestServices.GetRequiredService<IncidentReader>();
            try
            {
                terms = await reader.ScalarAsync<int>($"SELECT numnode({IncidentSqlBuilder.TextQuery})",
                    new Dapper.DynamicParameters(new { q = text }), context.RequestAborted, stablePlan: true);
            }
            // PostgreSQL's tsquery parser holds at most 32 operators in a row ("- - - … riot"): past
            // that it fails the statement ("tsquery stack too small"), and with it every read carrying q.
            catch (Npgsql.PostgresException e) when (e.SqlState is Npgsql.PostgresErrorCodes.InternalError or Npgsql.PostgresErrorCodes.ProgramLimitExceeded)
            {
                terms = TooComplex;
            }
            cache.Set(key, terms, new MemoryCacheEntryOptions
                { Size = 64 + 2 * key.Length, SlidingExpiration = TimeSpan.FromHours(1) });
        }
        return terms switch
        {
            > 0 => null,
            TooComplex => Problem.BadParameter("q", "has more operators (-, OR) in a row than full-text search can take; remove the repeated ones"),
            _ => Problem.BadParameter("q", $"'{text}' has no words to search for: punctuation and common words such as 'the' and 'of' are not indexed"),
        };
    }

    public static OutputFormat? ParseFormat(string f) => f.ToLowerInvariant() switch
    {
        "json" or "geojson" => OutputFormat.GeoJson,
        "csv" => OutputFormat.Csv,
        "geojsonseq" or "geojson-seq" => OutputFormat.GeoJsonSeq,
        "ndjson" or "jsonl" => OutputFormat.NdJson,
        _ => null,
    };

    /// <summary>
    /// The format the client prefers among ours (of <paramref name="offered"/>, when given), by RFC 9110 §12.5.1: each
    /// format takes the q of the most specific range in Accept that matches its media type (<c>text/csv</c> before
    /// <c>text/*</c> before <c>*/*</c>; <c>application/json</c> names GeoJSON too), so <c>q=0</c> refuses it even beside a
    /// wildcard; the highest q wins, then the range written first, then the order of <see cref="OutputFormat"/>.
    /// GeoJSON for none, and when Accept refuses every format we have (the service answers rather than a 406).
    /// </summary>
    public static OutputFormat FormatFromAccept(string? accept, params OutputFormat[] offered)
    {
        if (string.IsNullOrWhiteSpace(accept)) return OutputFormat.GeoJson;
        var ranges = accept.Split(',')
            .Select((part, index) =>
            {
                var pieces = part.Split(';', StringSplitOptions.TrimEntries);
                var q = pieces.Skip(1).Where(p => p.StartsWith("q=", StringComparison.OrdinalIgnoreCase))
                    .Select(p => double.TryParse(p[2..], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : 1)
                    .DefaultIfEmpty(1).First();
                return (Type: pieces[0].ToLowerInvariant(), Q: q, Index: index);
            })
            .Where(r => r.Type.Length > 0)
            .ToList();
        OutputFormat? best = null;
        (double Q, int Index) bestRank = (0, int.MaxValue);
        foreach (var format in Enum.GetValues<OutputFormat>())
        {
            if (offered.Length > 0 && !offered.Contains(format)) continue;
            var types = OutputMediaTypes(format);
            // Specificity: 2 for the type itself (or an alias), 1 for its main type with *, 0 for */*.
            var match = ranges
                .Select(r => (r.Q, r.Index, Specificity: types.Contains(r.Type) ? 2
                    : r.Type == types[0][..(types[0].IndexOf('/') + 1)] + "*" ? 1 : r.Type == "*/*" ? 0 : -1))
                .Where(m => m.Specificity >= 0)
                .OrderByDescending(m => m.Specificity).ThenByDescending(m => m.Q)
                .Select(m => ((double Q, int Index)?)(m.Q, m.Index)).FirstOrDefault();
            if (match is not { } rank || rank.Q <= 0) continue;
            if (best is null || rank.Q > bestRank.Q || (rank.Q == bestRank.Q && rank.Index < bestRank.Index))
                (best, bestRank) = (format, rank);
        }
        return best ?? OutputFormat.GeoJson;
    }

    /// <summary>The media types Accept may name a format by; the first is the one it is sent as.</summary>
    private static string[] OutputMediaTypes(OutputFormat format) => format switch
    {
        OutputFormat.GeoJson => ["application/geo+json", "application/json"],
        OutputFormat.Csv => ["text/csv"],
        OutputFormat.GeoJsonSeq => ["application/geo+json-seq"],
        OutputFormat.NdJson => ["application/x-ndjson", "application/ndjson", "application/jsonl"],
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };

    private static List<Box>? ParseBbox(string text, out string error)
    {
        var numbers = new List<double>();
        foreach (var part in text.Split(','))
        {
            if (!TryNumber(part.Trim(), out var n)) { error = $"'{part}' is not a number; give minLon,minLat,maxLon,maxLat"; return null; }
            numbers.Add(n);
        }
        return Boxes(numbers, out error);
    }

    /// <summary>
    /// minLon,minLat,maxLon,maxLat (or 6 numbers, with heights) as the boxes they stand for: one, or two
    /// when minLon &gt; maxLon crosses the antimeridian, even if one has no width (170,-1,-180,1 keeps the
    /// line at -180); with a line more for an edge on ±180 (the other spelling of that meridian) and for an
    /// edge on a pole (the pole at every longitude). The bbox parameter and a filter's BBOX(…) both mean this.
    /// </summary>
    internal static List<Box>? Boxes(IReadOnlyList<double> numbers, out string error)
    {
        error = "";
        if (numbers.Count is not (4 or 6)) { error = $"has {numbers.Count} numbers; give minLon,minLat,maxLon,maxLat (or 6 with heights)"; return null; }
        var (minLon, minLat, maxLon, maxLat) = numbers.Count == 4
            ? (numbers[0], numbers[1], numbers[2], numbers[3])
            : (numbers[0], numbers[1], numbers[3], numbers[4]);
        if (minLon is < -180 or > 180 || maxLon is < -180 or > 180) { error = "longitudes must be between -180 and 180"; return null; }
        if (minLat is < -90 or > 90 || maxLat is < -90 or > 90) { error = "latitudes must be between -90 and 90"; return null; }
        if (minLat > maxLat)
        {
            error = string.Create(CultureInfo.InvariantCulture, $"minLat {minLat} is greater than maxLat {maxLat}");
            return null;
        }
        // Heights are not stored (incidents are 2D), but a range whose bottom is above its top is as wrong as reversed latitudes.
        if (numbers.Count == 6 && numbers[2] > numbers[5])
        {
            error = string.Create(CultureInfo.InvariantCulture, $"minimum height {numbers[2]} is greater than maximum height {numbers[5]}");
            return null;
        }
        List<Box> boxes = minLon <= maxLon
            ? [new Box(minLon, minLat, maxLon, maxLat)]
            : [new Box(minLon, minLat, 180, maxLat), new Box(-180, minLat, maxLon, maxLat)];
        // Longitudes 180 and -180 are one meridian, and latitude 90 (or -90) one point whatever its longitude
        // (RFC 7946 §3.1.9). Shapes are compared in the plane, where they are not: a box ending at 180 missed a
        // point stored at -180 that a box crossing to -180 found, and a box reaching the pole only the pole
        // points of its own longitudes. So such a box also holds the other meridian's edge and the whole pole.
        var everyLongitude = minLon > maxLon || minLon == -180 && maxLon == 180;
        if (!everyLongitude && maxLon == 180) boxes.Add(new Box(-180, minLat, -180, maxLat, Alias: true));
        if (!everyLongitude && minLon == -180) boxes.Add(new Box(180, minLat, 180, maxLat, Alias: true));
        if (!(minLon == -180 && maxLon == 180))
        {
            if (maxLat == 90) boxes.Add(new Box(-180, 90, 180, 90, Alias: true));
            if (minLat == -90) boxes.Add(new Box(-180, -90, 180, -90, Alias: true));
        }
        return boxes;
    }

    /// <summary>
    /// A search shape's other spellings of its edge, as <see cref="Boxes"/> gives a bbox's: where it touches the
    /// meridian 180 (or -180), that part on the other; where it reaches a pole, the pole at every longitude. Null
    /// when it does neither, the usual case. The shape is compared in the plane, so without them a polygon ending
    /// at 180 missed a point stored at -180 that the same bbox finds.
    /// </summary>
    internal static Geometry? EdgeAliases(Geometry shape)
    {
        var envelope = shape.EnvelopeInternal;
        var aliases = new List<Geometry>();
        foreach (var (at, to) in new[] { (180.0, -180.0), (-180.0, 180.0) })
        {
            if (envelope.MinX > at || envelope.MaxX < at) continue;
            var meridian = Factory.CreateLineString([new Coordinate(at, -90), new Coordinate(at, 90)]);
            // Part by part: overlay takes no GeometryCollection (a CQL2 literal may be one).
            foreach (var part in Filtering.Literals.Parts(shape))
            {
                var touching = part.Intersection(meridian);
                if (touching.IsEmpty) continue;
                var moved = touching.Copy();
                moved.Apply(new NetTopologySuite.Geometries.Utilities.AffineTransformation().Translate(to - at, 0));
                aliases.Add(moved);
            }
        }
        foreach (var pole in new[] { 90.0, -90.0 })
        {
            var line = Factory.CreateLineString([new Coordinate(-180, pole), new Coordinate(180, pole)]);
            if ((pole > 0 ? envelope.MaxY >= pole : envelope.MinY <= pole) && shape.Intersects(line)) aliases.Add(line);
        }
        if (aliases.Count == 0) return null;
        var all = Factory.BuildGeometry(aliases);
        all.SRID = Factory.SRID;
        return all;
    }

    private static bool TryNumber(string text, out double value) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);

    /// <summary>A distance: a number of metres, or with unit m, km or mi (25km).</summary>
    public static bool TryDistance(string text, out double metres)
    {
        metres = 0;
        text = text.Trim().ToLowerInvariant();
        var (number, factor) = text switch
        {
            _ when text.EndsWith("km") => (text[..^2], 1000.0),
            _ when text.EndsWith("mi") => (text[..^2], 1609.344),
            _ when text.EndsWith('m') => (text[..^1], 1.0),
            _ => (text, 1.0),
        };
        if (!TryNumber(number.Trim(), out var value)) return false;
        metres = value * factor;
        return true;
    }

    /// <summary>
    /// The closed vocabularies every incident has a value of (NOT NULL in db/migrations/0001_incidents.sql):
    /// an empty one of these has no "incidents without one" to point to, so its problem lists the values instead.
    /// </summary>
    private static readonly Dictionary<string, string[]> RequiredVocabularies = new()
    {
        ["event_type"] = Incidents.Vocabulary.EventTypes,
        ["status"] = Incidents.Vocabulary.Statuses,
        ["time_precision"] = Incidents.Vocabulary.TimePrecisions,
        ["geo_precision"] = Incidents.Vocabulary.GeoPrecisions,
    };

    /// <summary>What is wrong with the members of a list parameter (its values joined as <see cref="Joined"/> joins them), or null.</summary>
    private static string? ListError(string key, string value)
    {
        var whole = WholeValues.Contains(key);
        var members = value.Split(whole ? ValueSeparator : ',');
        if (members.Length > MaxListValues)
            return $"has {members.Length} values; a list takes at most {MaxListValues} (split the request, or filter more broadly)";
        if (!members.Any(string.IsNullOrWhiteSpace)) return null;
        // properties= alone asks for no property, and sortby= is no sort key (said where sortby is read).
        if (key is ("properties" or "sortby") && members.Length == 1) return null;
        // An empty property value matches no incident in OGC's terms; it used to mean "no filter". A whole value
        // given empty beside others (location_name=Homs&location_name=) is a mistake too.
        if (whole || (members.All(string.IsNullOrWhiteSpace) && key is not ("properties" or "sortby"))) return EmptyValue(key);
        // So is an empty member of a comma list (event_type=battles,,riots, riots, or event_type=riots&event_type=):
        // it used to be left out.
        return $"'{value}' has an empty member; separate values with one comma, with none before the first or after the last";
    }

    /// <summary>Why an empty property parameter is refused, and what to ask instead.</summary>
    private static string EmptyValue(string key) =>
        RequiredVocabularies.TryGetValue(key, out var allowed)
            ? $"is empty; give one or more of {string.Join(", ", allowed)}, or leave the parameter out for all (every incident has one, so no filter finds incidents without one)"
            : $"is empty; give a value (incidents without one: filter={(key is "tags" or "actors" ? $"A_EQUALS({key}, ())" : $"{key} IS NULL")})";

    private static List<string>? List(string? text) =>
        text is null ? null : text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Distinct().ToList();

    private static List<string>? Vocabulary(string? text, string name, string[] allowed, List<FieldError> errors)
    {
        var list = List(text);
        var unknown = list?.Where(v => !allowed.Contains(v)).ToList();
        if (unknown is { Count: > 0 }) errors.Add(new FieldError(name, $"unknown: {string.Join(", ", unknown.Select(FieldError.Quoted))}; use {string.Join(", ", allowed)}"));
        return list;
    }

    internal static List<string>? CountryList(string? text, List<FieldError> errors)
    {
        var list = List(text)?.Select(c => c.ToUpperInvariant()).ToList();
        var unknown = list?.Where(c => !Incidents.Vocabulary.CountryCodes.Contains(c)).ToList();
        if (unknown is { Count: > 0 }) errors.Add(new FieldError("country", $"not ISO 3166-1 alpha-2: {string.Join(", ", unknown.Select(FieldError.Quoted))}"));
        return list;
    }

    private static List<int>? Counts(string? text, string name, List<FieldError> errors)
    {
        if (List(text) is not { } items) return null;
        var counts = new List<int>(items.Count);
        foreach (var item in items)
        {
            if (int.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out var n)) counts.Add(n);
            else errors.Add(new FieldError(name, item.All(char.IsAsciiDigit) ? TooLarge(item) : $"'{item}' is not a whole number of at least 0"));
        }
        return counts.Count == 0 ? null : counts;
    }

    /// <summary>A toll of digits past what a toll can be: "is not a whole number of at least 0" was false of it.</summary>
    private static string TooLarge(string digits) =>
        $"{FieldError.Quoted(digits)} is larger than any toll an incident can have (at most {int.MaxValue})";

    /// <summary><c>a..b</c>, <c>a..</c>, <c>..b</c> or <c>n</c> (= n..n); null when it is none of these.</summary>
    private static (int? From, int? To)? TollRange(string text)
    {
        static bool Bound(string part, out int? value)
        {
            value = null;
            if (part.Length == 0) return true;
            var ok = int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var n);
            value = n;
            return ok;
        }
        var dots = text.IndexOf("..", StringComparison.Ordinal);
        var (fromText, toText) = dots < 0 ? (text, text) : (text[..dots], text[(dots + 2)..]);
        if (text.Trim() is "" or ".." || !Bound(fromText.Trim(), out var from) || !Bound(toText.Trim(), out var to)) return null;
        return from > to ? null : (from, to);
    }
}
