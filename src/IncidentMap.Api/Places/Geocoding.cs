using System.Text.Json;
using System.Text.Json.Nodes;
using IncidentMap.Api.Incidents;
using IncidentMap.Api.Problems;
using IncidentMap.Api.Querying;

namespace IncidentMap.Api.Places;

/// <summary>
/// Geocoding on write. An incident sent with a location_name and no geometry gets the best place's
/// point (never a guess between equally good candidates, nor a place outside the admin1 given: that
/// is a 422 listing them). One sent with a geometry gets whichever of location_name, admin1 and
/// country it lacks from the nearest place within 25 km (not country and admin1 near a border: see
/// <see cref="ReverseAsync"/>).
/// Whatever the server fills in is listed in derived_fields.
/// </summary>
public sealed class Geocoding(Gazetteer gazetteer)
{
    public sealed record Prepared(JsonElement Feature, long? PlaceId, string[] Derived, JsonDocument? Owned);

    /// <summary>What a Feature asks to be geocoded: its location_name, with the country and admin1 that choose among places.</summary>
    public sealed record PlaceQuery(string Name, string? Country, string? Admin1);

    /// <summary>Why a name was not geocoded: the problem's title, the reason, and the places offered instead (maybe none).</summary>
    public sealed record Refusal(string Title, string Reason, IReadOnlyList<PlaceMatch> Candidates)
    {
        public const string Field = "properties.location_name";

        public string Detail => $"{Field}: {Reason}";
    }

    /// <summary>Fills a missing geometry from location_name; the returned Feature is then validated as usual.</summary>
    public async Task<(Prepared? Prepared, IResult? Problem)> GeocodeAsync(JsonElement feature, CancellationToken ct)
    {
        if (QueryOf(feature) is not { } query) return (Unchanged(feature), null);
        var resolution = await gazetteer.ResolveAsync(query.Name, query.Country, query.Admin1, ct);
        if (resolution is Resolution.Found(var place)) return (Apply(feature, place), null);
        var refusal = Refuse(query, resolution);
        return (null, refusal.Candidates.Count == 0
            ? Problem.Status(StatusCodes.Status422UnprocessableEntity, refusal.Title, refusal.Detail, Refusal.Field)
            : Problem.Status(StatusCodes.Status422UnprocessableEntity, refusal.Title, refusal.Detail, Refusal.Field, Candidates(refusal.Candidates)));
    }

    /// <summary>The Feature as it came, for one that asks no geocoding.</summary>
    public static Prepared Unchanged(JsonElement feature) => new(feature, null, [], null);

    /// <summary>
    /// The place name a Feature with no geometry asks for, or null when there is nothing to geocode
    /// (a geometry, no usable location_name, or a country that is no country: validation names that
    /// as the writer's mistake, rather than the name being geocoded worldwide). So too a location_name or
    /// admin1 that cannot be stored (a control character, a NUL, invalid Unicode): validation names the
    /// field, rather than "no place is named 'Ho\nms'; did you mean Homs?" or a lookup that ignored the admin1.
    /// </summary>
    public static PlaceQuery? QueryOf(JsonElement feature)
    {
        if (feature.ValueKind != JsonValueKind.Object
            || (feature.TryGetProperty("geometry", out var geometry) && geometry.ValueKind != JsonValueKind.Null)
            || !feature.TryGetProperty("properties", out var properties) || properties.ValueKind != JsonValueKind.Object
            || !properties.TryGetProperty("location_name", out var nameElement) || nameElement.ValueKind != JsonValueKind.String
            // Blank text is none, in every write; an overlong name is validation's to name.
            || nameElement.GetString() is not { } name || string.IsNullOrWhiteSpace(name)
            || IncidentInput.TextProblem(name.Trim()) is not null || IncidentInput.Characters(name) > 500)
            return null;
        var country = Text(properties, "country")?.ToUpperInvariant();
        if (country is not null && !Vocabulary.CountryCodes.Contains(country)) return null;
        var admin1 = Text(properties, "admin1");
        if (admin1 is not null && IncidentInput.TextProblem(admin1.Trim()) is not null) return null;
        // Trimmed as every write stores text (String.Trim: a spreadsheet's no-break space too), so the name looked
        // up is the name stored. (The country is a code already, or none.)
        return new PlaceQuery(name.Trim(), country, admin1?.Trim());
    }

    /// <summary>The Feature with the place's point, and whichever of geo_precision, country and admin1 it lacked.</summary>
    public static Prepared Apply(JsonElement feature, PlaceMatch place)
    {
        var node = JsonNode.Parse(feature.GetRawText())!.AsObject();
        node["geometry"] = new JsonObject { ["type"] = "Point", ["coordinates"] = new JsonArray(place.Lon, place.Lat) };
        var props = node["properties"]!.AsObject();
        var derived = new List<string> { "geometry" };
        // Blank text is none, in every write: a blank country or admin1 is filled like a missing one.
        bool None(string name) => props[name] is null || (props[name]!.GetValueKind() == JsonValueKind.String && string.IsNullOrWhiteSpace(props[name]!.GetValue<string>()));
        if (None("geo_precision")) { props["geo_precision"] = Precision(place); derived.Add("geo_precision"); }
        if (None("country") && place.Country is not null) { props["country"] = place.Country; derived.Add("country"); }
        if (None("admin1") && place.Admin1 is not null) { props["admin1"] = place.Admin1; derived.Add("admin1"); }
        var document = JsonDocument.Parse(node.ToJsonString());
        return new Prepared(document.RootElement, place.Id, [.. derived], document);
    }

    /// <summary>
    /// Why a name that found no single place is refused: never a guess between candidates, nor a
    /// similar spelling taken. <paramref name="inFile"/>: for an import's report, which lists no
    /// candidates beside the reason (so the reason names them) and speaks of coordinates rather than a geometry.
    /// </summary>
    public static Refusal Refuse(PlaceQuery query, Resolution resolution, bool inFile = false)
    {
        var (name, country) = (query.Name, query.Country);
        var where = country is null ? "" : $" in {country}";
        var geometry = inFile ? "coordinates" : "a geometry";
        return resolution switch
        {
            Resolution.Ambiguous(var candidates) => new Refusal("Ambiguous place",
                $"'{name}' matches {HowMany(candidates)} places" +
                Undecided(query, candidates, geometry) +
                // A report lists no candidates beside the reason: it names them.
                (inFile ? $" It could be {PlacesApi.DidYouMean(candidates)}." : ""), candidates),
            Resolution.OutsideAdmin1(var candidates) => new Refusal("Place not in admin1",
                $"no place named '{name}'{where} lies in admin1 '{query.Admin1}'; the gazetteer knows " +
                (candidates.Count >= Gazetteer.MaxCandidates ? $"{Gazetteer.MaxCandidates} or more" : candidates.Count == 1 ? "one" : $"{candidates.Count}") +
                // A report lists no candidates beside the reason: it names them, each with its admin1.
                $" of that name in another admin1{(inFile ? $": {PlacesApi.DidYouMean(candidates, "and")}" : " (see candidates)")}. " +
                $"If {(candidates.Count == 1 ? "it is" : "one of them is")} the place meant, correct admin1; otherwise send {geometry}, or add the place.", candidates),
            // Also asks for admin1: one that names the place's division confirms it as a country does.
            Resolution.OtherName(var places) => new Refusal("Other name of a place",
                $"'{name}' {OtherNameOf(places)}. " +
                // An admin1 can only confirm a place that has one.
                $"Add {(places.All(p => p.Admin1 is null) ? "country" : "country or admin1")} to take it, or send the name as the gazetteer spells it" +
                $"{(inFile ? "" : " (see candidates)")}, or {geometry}, or add the place.", places),
            Resolution.Unknown { Suggestions.Count: 0 } => new Refusal("Unknown place",
                $"no place named '{name}'{where} is known; send {geometry}, or add the place first.", []),
            Resolution.Unknown(var suggestions) => new Refusal("Unknown place",
                $"no place is named '{name}'{where}; did you mean {PlacesApi.DidYouMean(suggestions)}? " +
                $"Send the name as the gazetteer spells it{(inFile ? "" : " (see candidates)")}, or {geometry}, or add the place.", suggestions),
            _ => throw new InvalidOperationException($"Unexpected resolution {resolution}"),
        };
    }

    /// <summary>
    /// How many places a lookup's candidates are, in words: the lookup stops at <see cref="Gazetteer.MaxCandidates"/>, so
    /// that many means that many or more ("San Jose" names 40 places).
    /// </summary>
    internal static string HowMany(IReadOnlyList<PlaceMatch> candidates) =>
        candidates.Count >= Gazetteer.MaxCandidates ? $"{Gazetteer.MaxCandidates} or more" : $"{candidates.Count}";

    /// <summary>What a name that is only an other name is (<see cref="Resolution.OtherName"/>): whose, in the words of a 422 and of near='s 400.</summary>
    internal static string OtherNameOf(IReadOnlyList<PlaceMatch> places) =>
        "is no place's own name; it is another name (GeoNames' alternate name) of " +
        (places.Count >= Gazetteer.MaxCandidates ? $"{Gazetteer.MaxCandidates} or more places, among them " : "") + PlacesApi.DidYouMean(places);

    /// <summary>
    /// Why places of one name were left undecided, and what would decide them: what the writer gave
    /// does not tell them apart, so only what was not given is asked for (a country, when the places
    /// lie in several; an admin1, when they lie in several divisions), and a geometry always decides.
    /// </summary>
    private static string Undecided(PlaceQuery query, IReadOnlyList<PlaceMatch> candidates, string geometry)
    {
        string[] given = [.. new[] { query.Country is null ? null : $"country {query.Country}", query.Admin1 is null ? null : $"admin1 '{query.Admin1}'" }.OfType<string>()];
        // The lookup stops at MaxCandidates: those beyond may lie elsewhere, so anything not given may decide.
        var mayBeMore = candidates.Count >= Gazetteer.MaxCandidates;
        string[] wanted = [.. new[]
        {
            query.Country is null && (mayBeMore || candidates.Select(c => c.Country).Distinct().Count() > 1) ? "country" : null,
            query.Admin1 is null && (mayBeMore || candidates.Select(c => (c.Country, c.Admin1)).Distinct().Count() > 1) ? "admin1" : null,
        }.OfType<string>()];
        var undecided = given.Length == 0 ? "" : $", and {string.Join(" and ", given)} {(given.Length == 1 ? "does" : "do")} not tell them apart";
        return wanted.Length == 0
            ? $"{undecided}; send {geometry}."
            : $"{undecided}; add {string.Join(" or ", wanted)}, or send {geometry}.";
    }

    /// <summary>Marks, in derived_fields, an incident whose country reverse geocoding could not decide.</summary>
    public const string CountryUndecided = "country_undecided";

    /// <summary>
    /// Fills whichever of location_name, admin1 and country was not given from the nearest place: an
    /// incident sent with a point and its own place name ("the market in Sayeda Zeinab") still gets
    /// the country and admin1 its point lies in, which filters and stats group by. A country the
    /// writer gave rules out a place of another country; the place is linked (place_id) only when its
    /// name is the one filled in.
    /// The gazetteer has points, not borders: near a border the nearest place may lie across it
    /// (a point in Rafah, Gaza is 1.1 km from Rafah, Egypt and 1.9 km from its own Rafah). So when a
    /// place of another country is about as near (<see cref="Gazetteer.BorderFactor"/> × the nearest's
    /// distance + <see cref="Gazetteer.BorderMarginMetres"/>), country and admin1 are left empty and
    /// derived_fields says <see cref="CountryUndecided"/>, for an editor to settle (a CQL2 filter finds
    /// them). location_name and place_id still name the nearest place: the point is near it whichever
    /// side of the border it lies.
    /// </summary>
    public async Task<IncidentDraft> ReverseAsync(IncidentDraft draft, CancellationToken ct)
    {
        if (draft.LocationName is not null && draft.Admin1 is not null && draft.Country is not null) return draft;
        var filled = await gazetteer.FillAsync(draft.Geometry, draft.LocationName, draft.Admin1, draft.Country, draft.PlaceId, draft.DerivedFields, ct);
        return draft with
        {
            LocationName = filled.LocationName, Admin1 = filled.Admin1, Country = filled.Country,
            // A mark kept from before (a patch) may be derived again.
            PlaceId = filled.PlaceId, DerivedFields = [.. filled.DerivedFields.Distinct()],
        };
    }

    /// <summary>The places a problem offers the client to choose from.</summary>
    internal static Dictionary<string, object?> Candidates(IEnumerable<PlaceMatch> places) =>
        new() { ["candidates"] = places.Select(PlacesApi.Describe).ToArray() };

    /// <summary>How precise a place's point is as an incident location.</summary>
    public static string Precision(PlaceMatch place) => place.Kind switch
    {
        "site" => "exact",
        "suburb" or "district" or "neighbourhood" or "PPLX" => "near",
        "region" or "ADM1" or "ADM2" => "region",
        _ => "town",
    };

    /// <summary>A text property, or null when it is absent, not text or blank (blank text is none, in every write).</summary>
    private static string? Text(JsonElement properties, string name) =>
        properties.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(value.GetString())
            ? value.GetString() : null;
}

/// <summary>
/// <c>near=Homs&amp;radius=50km</c> (with <c>country</c> to disambiguate): replaces the place name by
/// its lat/lon before the query is parsed, so it works wherever lat/lon work.
/// </summary>
public static class NearParameter
{
    public static async Task<IResult?> ResolveAsync(IDictionary<string, string> values, Gazetteer gazetteer, CancellationToken ct)
    {
        values.Remove("near_country", out var nearCountry);
        // near stays among the values: the query parser reads it to word what a near= search lacks (a radius).
        if (!values.TryGetValue("near", out var near))
            return nearCountry is null ? null : Problem.BadParameter("near_country", "chooses the place of near=; give near too");
        if (values.ContainsKey("lat") || values.ContainsKey("lon"))
            return Problem.BadParameter("near", "give either near or lat/lon, not both");
        if (string.IsNullOrWhiteSpace(near) || IncidentInput.Characters(near) > 200) return Problem.BadParameter("near", "must be a place name of 1 to 200 characters");
        if (!IncidentInput.IsStorableText(near)) return Problem.BadParameter("near", "must not contain NUL or unpaired surrogate characters");
        // near_country only picks the place; country picks it too when near_country is absent, and
        // also filters the incidents (an incident across the border, or of no known country, is left out).
        if (nearCountry is not null && !Vocabulary.CountryCodes.Contains(nearCountry.ToUpperInvariant()))
            return Problem.BadParameter("near_country", $"'{nearCountry}' is not an ISO 3166-1 alpha-2 code");
        // An invalid country would find no place; the problem is the country, so it is named.
        var countryErrors = new List<FieldError>();
        var countries = QueryParser.CountryList(values.TryGetValue("country", out var c) ? c : null, countryErrors);
        if (countryErrors.Count > 0) return Problem.Validation(countryErrors, StatusCodes.Status400BadRequest);
        var country = nearCountry?.ToUpperInvariant() ?? (countries is [var only] ? only : null);
        switch (await gazetteer.ResolveAsync(near, country, null, ct))
        {
            case Resolution.Found(var place):
                values["lat"] = place.Lat.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
                values["lon"] = place.Lon.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
                return null;
            case Resolution.Ambiguous(var candidates):
                return Problem.Status(StatusCodes.Status400BadRequest, "Ambiguous place",
                    $"near '{near}' matches {Geocoding.HowMany(candidates)} places; add near_country= to choose (country= chooses too, and also filters the incidents by country).", "near",
                    Geocoding.Candidates(candidates));
            case Resolution.OtherName(var places):
                return Problem.Status(StatusCodes.Status400BadRequest, "Other name of a place",
                    $"near: '{near}' {Geocoding.OtherNameOf(places)}. " +
                    "Add near_country= to take it (country= takes it too, and also filters the incidents by country), or send the name as the gazetteer spells it (see candidates).", "near",
                    Geocoding.Candidates(places));
            case Resolution.Unknown { Suggestions.Count: > 0 } unknown:
                return Problem.Status(StatusCodes.Status400BadRequest, "Unknown place",
                    $"near: no place is named '{near}'{(country is null ? "" : $" in {country}")}; did you mean {PlacesApi.DidYouMean(unknown.Suggestions)}? " +
                    "Send the name as the gazetteer spells it (see candidates), or lat and lon.", "near",
                    Geocoding.Candidates(unknown.Suggestions));
            default:
                return Problem.BadParameter("near", $"no place named '{near}'{(country is null ? "" : $" in {country}")} is known");
        }
    }
}
