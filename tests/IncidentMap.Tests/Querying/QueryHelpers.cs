using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Querying;

/// <summary>
/// Helpers for query-engine tests. Every test tags the incidents it creates with a tag of its own
/// (<see cref="NewTag"/>) and filters by it, so rows created by tests running in parallel never count.
/// </summary>
public static class QueryHelpers
{
    public const string Items = "/collections/incidents/items";
    public const string Search = "/collections/incidents/search";

    public static string NewTag() => "t-" + Guid.NewGuid().ToString("N");

    /// <summary>An items query string parsed as the service parses it, repeated parameters (tags=a&amp;tags=b) joined as it joins them.</summary>
    public static IncidentMap.Api.Querying.IncidentQuery ParsedQuery(string parameters)
    {
        var values = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(parameters)
            .ToDictionary(p => p.Key, p => IncidentMap.Api.Querying.QueryParser.Joined(p.Key, p.Value));
        var (query, errors) = IncidentMap.Api.Querying.QueryParser.Parse(values, DateTimeOffset.UtcNow);
        Assert.True(query is not null, $"{parameters}: {string.Join("; ", errors)}");
        return query!;
    }

    /// <summary>A valid incident carrying <paramref name="tag"/> (plus <paramref name="moreTags"/>).</summary>
    public static JsonObject Incident(string tag, JsonNode? geometry = null, string occurredAt = "2016-02-21T07:30:00Z",
        string? title = null, params string[] moreTags)
    {
        var tags = new JsonArray(tag);
        foreach (var more in moreTags) tags.Add(more);
        return Features.Valid(title, geometry, occurredAt).With("tags", tags);
    }

    /// <summary>Sets one property of a Feature (null writes JSON null).</summary>
    public static JsonObject With(this JsonObject feature, string property, JsonNode? value)
    {
        feature["properties"]![property] = value;
        return feature;
    }

    public static string Esc(string value) => Uri.EscapeDataString(value);

    public static string Inv(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    public static List<long> Ids(JsonNode page) => page["features"]!.AsArray().Select(f => f!["id"]!.GetValue<long>()).ToList();

    /// <summary>The ids a GET of the items endpoint returns for <paramref name="query"/> (one page of up to 1000).</summary>
    public static async Task<List<long>> IdsAsync(this HttpClient client, string query) =>
        Ids(await client.GetJsonAsync($"{Items}?{query}&limit=1000"));

    /// <summary>Asserts that the query returns exactly <paramref name="expected"/> (in any order).</summary>
    public static async Task AssertMatchesAsync(this HttpClient client, string query, params long[] expected)
    {
        var ids = await client.IdsAsync(query);
        Assert.True(expected.Order().SequenceEqual(ids.Order()),
            $"{query}: expected [{string.Join(", ", expected.Order())}], got [{string.Join(", ", ids.Order())}]");
    }

    public static Task<HttpResponseMessage> SearchAsync(this HttpClient client, JsonNode body) =>
        client.PostAsync(Search, Features.Content(body, "application/json"));

    public static async Task<JsonObject> SearchJsonAsync(this HttpClient client, JsonNode body)
    {
        var response = await client.SearchAsync(body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST search {body.ToJsonString()}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    public static JsonObject? NextLink(JsonNode page) =>
        page["links"]!.AsArray().FirstOrDefault(l => l!["rel"]!.GetValue<string>() == "next")?.AsObject();

    /// <summary>
    /// Follows <c>next</c> links from <paramref name="first"/> (GET links, or POST links with a body) and
    /// returns every page. <paramref name="betweenPages"/> runs after each page with the number of pages read.
    /// </summary>
    public static async Task<List<JsonObject>> AllPagesAsync(this HttpClient client, JsonObject first, Func<int, Task>? betweenPages = null)
    {
        var pages = new List<JsonObject> { first };
        while (NextLink(pages[^1]) is { } next)
        {
            Assert.True(pages.Count < 200, "next links do not end");
            if (betweenPages is not null) await betweenPages(pages.Count);
            var href = next["href"]!.GetValue<string>();
            pages.Add(next["method"]?.GetValue<string>() == "POST"
                ? await client.SearchJsonAsync(next["body"]!.DeepClone())
                : await client.GetJsonAsync(href));
        }
        return pages;
    }

    /// <summary>Asserts a 400 problem whose errors name <paramref name="parameter"/> or one of its members (parameter.x).</summary>
    public static async Task AssertBadRequestNamingAsync(HttpResponseMessage response, string parameter)
    {
        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        var fields = problem["errors"]?.AsArray().Select(e => e!["field"]!.GetValue<string>()).ToList() ?? [];
        Assert.True(fields.Any(f => f == parameter || f.StartsWith(parameter + ".", StringComparison.Ordinal)),
            $"no error names '{parameter}': {problem.ToJsonString()}");
    }

    /// <summary>
    /// A strict RFC 4180 reader: records end in CRLF, fields are separated by commas, a field containing
    /// comma, quote, CR or LF must be quoted, and quotes inside quoted fields are doubled. Anything else throws.
    /// </summary>
    public static List<List<string>> ParseCsv(string text)
    {
        var records = new List<List<string>>();
        var record = new List<string>();
        var field = new StringBuilder();
        var i = 0;
        while (i < text.Length)
        {
            if (text[i] == '"')
            {
                i++;
                while (true)
                {
                    if (i >= text.Length) throw new FormatException("unterminated quoted field");
                    if (text[i] != '"') field.Append(text[i++]);
                    else if (i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i += 2; }
                    else { i++; break; }
                }
            }
            else
            {
                while (i < text.Length && text[i] is not (',' or '\r' or '\n'))
                {
                    if (text[i] == '"') throw new FormatException($"quote inside an unquoted field at offset {i}");
                    field.Append(text[i++]);
                }
            }
            record.Add(field.ToString());
            field.Clear();

            if (i < text.Length && text[i] == ',') { i++; continue; }
            if (i + 1 < text.Length && text[i] == '\r' && text[i + 1] == '\n')
            {
                records.Add(record);
                record = [];
                i += 2;
                continue;
            }
            throw new FormatException(i >= text.Length
                ? "the last record does not end in CRLF"
                : $"expected ',' or CRLF at offset {i}, found {(int)text[i]:x2}");
        }
        return records;
    }

    /// <summary>
    /// Geodesic distance on the WGS 84 ellipsoid by Vincenty's inverse formula (1975), accurate to well
    /// under a millimetre for points that are not nearly antipodal: an independent check of PostGIS's
    /// spheroid distances (which use Karney's algorithm).
    /// </summary>
    public static double GeodesicMetres(double lat1, double lon1, double lat2, double lon2)
    {
        const double a = 6378137.0, f = 1 / 298.257223563, b = a * (1 - f);
        static double Rad(double degrees) => degrees * Math.PI / 180;

        var l = Rad(lon2 - lon1);
        var u1 = Math.Atan((1 - f) * Math.Tan(Rad(lat1)));
        var u2 = Math.Atan((1 - f) * Math.Tan(Rad(lat2)));
        var (sinU1, cosU1, sinU2, cosU2) = (Math.Sin(u1), Math.Cos(u1), Math.Sin(u2), Math.Cos(u2));

        var lambda = l;
        double sinSigma, cosSigma, sigma, cosSqAlpha, cos2SigmaM;
        for (var iteration = 0; ; iteration++)
        {
            if (iteration == 200) throw new InvalidOperationException("Vincenty did not converge");
            var (sinLambda, cosLambda) = (Math.Sin(lambda), Math.Cos(lambda));
            sinSigma = Math.Sqrt(Math.Pow(cosU2 * sinLambda, 2) + Math.Pow(cosU1 * sinU2 - sinU1 * cosU2 * cosLambda, 2));
            if (sinSigma == 0) return 0;
            cosSigma = sinU1 * sinU2 + cosU1 * cosU2 * cosLambda;
            sigma = Math.Atan2(sinSigma, cosSigma);
            var sinAlpha = cosU1 * cosU2 * sinLambda / sinSigma;
            cosSqAlpha = 1 - sinAlpha * sinAlpha;
            cos2SigmaM = cosSqAlpha == 0 ? 0 : cosSigma - 2 * sinU1 * sinU2 / cosSqAlpha;
            var c = f / 16 * cosSqAlpha * (4 + f * (4 - 3 * cosSqAlpha));
            var previous = lambda;
            lambda = l + (1 - c) * f * sinAlpha *
                (sigma + c * sinSigma * (cos2SigmaM + c * cosSigma * (-1 + 2 * cos2SigmaM * cos2SigmaM)));
            if (Math.Abs(lambda - previous) < 1e-13) break;
        }

        var uSq = cosSqAlpha * (a * a - b * b) / (b * b);
        var bigA = 1 + uSq / 16384 * (4096 + uSq * (-768 + uSq * (320 - 175 * uSq)));
        var bigB = uSq / 1024 * (256 + uSq * (-128 + uSq * (74 - 47 * uSq)));
        var deltaSigma = bigB * sinSigma * (cos2SigmaM + bigB / 4 * (cosSigma * (-1 + 2 * cos2SigmaM * cos2SigmaM)
            - bigB / 6 * cos2SigmaM * (-3 + 4 * sinSigma * sinSigma) * (-3 + 4 * cos2SigmaM * cos2SigmaM)));
        return b * bigA * (sigma - deltaSigma);
    }

    /// <summary>The latitude due north of (lat, lon) at <paramref name="metres"/> along the meridian (bisection on <see cref="GeodesicMetres"/>).</summary>
    public static double LatitudeNorth(double lat, double lon, double metres)
    {
        var (low, high) = (lat, lat + 2 * metres / 110_000);
        for (var n = 0; n < 100; n++)
        {
            var mid = (low + high) / 2;
            if (GeodesicMetres(lat, lon, mid, lon) < metres) low = mid; else high = mid;
        }
        return (low + high) / 2;
    }
}
