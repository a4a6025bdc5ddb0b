using System.Text.Json.Serialization;
using IncidentMap.Api.OpenApi;

namespace IncidentMap.Api.Incidents;

// The public shape of an incident, for the OpenAPI document. Responses are written by
// IncidentRowWriter from the SQL builder's columns and requests are read by IncidentInput; a test
// checks that all three agree on every property name.

/// <summary>An incident as a GeoJSON Feature.</summary>
/// <param name="Links">Set by the server on an incident read or written at its own URL: its self link and its collection's (OGC API – Features). Ignored in a request body, so a Feature read can be sent back as it is.</param>
public sealed record IncidentFeatureDoc(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("id")] long? Id,
    [property: JsonPropertyName("geometry")] GeoJsonGeometry Geometry,
    [property: JsonPropertyName("properties")] IncidentPropertiesDoc Properties,
    [property: JsonPropertyName("links")] LinkDoc[] Links);

/// <summary>A page of incidents.</summary>
/// <param name="NumberMatched">How many incidents match, exactly: on the first page (no cursor) unless count=false, on every page with count=true.</param>
public sealed record IncidentFeatureCollectionDoc(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("features")] IncidentFeatureDoc[] Features,
    [property: JsonPropertyName("numberMatched")] long NumberMatched,
    [property: JsonPropertyName("numberReturned")] int NumberReturned,
    [property: JsonPropertyName("timeStamp")] DateTimeOffset TimeStamp,
    [property: JsonPropertyName("links")] LinkDoc[] Links);

/// <param name="Method">The HTTP method to follow the link with, when it is not GET: a search's next page is POST.</param>
/// <param name="Body">The body to send with <c>method</c>: a search's next page is the search again with its cursor.</param>
public sealed record LinkDoc(
    [property: JsonPropertyName("href")] string Href,
    [property: JsonPropertyName("rel")] string Rel,
    [property: JsonPropertyName("type")] string? Type,
    [property: JsonPropertyName("title")] string? Title,
    [property: JsonPropertyName("method")] string Method,
    [property: JsonPropertyName("body")] System.Text.Json.Nodes.JsonObject Body);

/// <summary>
/// Marks an endpoint that takes the incident query parameters (documented from QueryParser.Parameters).
/// <see cref="Page"/> names the page and format parameters (limit, f, sortby …) it also takes; null for
/// all of them (the items). The others are refused at run time and left out of the OpenAPI document.
/// </summary>
public sealed class QueryParametersMetadata
{
    public IReadOnlyCollection<string>? Page { get; init; }
}

/// <summary>A request body an endpoint streams itself (not bound, so any Content-Type reaches it), for the OpenAPI document.</summary>
public sealed record RequestBodyDoc(string Description, params string[] ContentTypes);

/// <summary>
/// A query parameter an endpoint reads itself (zoom, interval …), for the OpenAPI document. Type
/// "number[]" is a comma list of numbers (as bbox), with <paramref name="MinItems"/> to <paramref name="MaxItems"/> of them.
/// </summary>
public sealed record QueryParameterDoc(string Name, string Description, string Type = "string", bool Required = false,
    string[]? Enum = null, string? Minimum = null, string? Maximum = null, string? Default = null, int? MinItems = null, int? MaxItems = null);

/// <summary>A request header an endpoint reads (the stream's Last-Event-ID), for the OpenAPI document.</summary>
public sealed record HeaderParameterDoc(string Name, string Description);

/// <summary>
/// A search: the items endpoint's query parameters as members, plus <c>intersects</c>, a GeoJSON
/// geometry the incidents must intersect; any other member is a 400. A member takes what the
/// parameter takes, as a string or in its JSON form (a number, a boolean, an array for a comma list
/// or a repeated parameter, a cql2-json filter as an object); null is the same as leaving it out.
/// </summary>
/// <remarks>A marker: OpenApiSetup writes its members from QueryParser.Parameters, the list the
/// endpoint checks them against, so the document can neither miss one nor name one it refuses.</remarks>
public sealed class SearchRequestDoc
{
    /// <summary>
    /// The body types the search reads (IncidentsApi.SearchIncidents): its Accepts names application/json
    /// alone, which routing also lets GeoJSON through as, so the OpenAPI document and routing's 415 take these.
    /// </summary>
    public static readonly string[] MediaTypes = ["application/json", "application/geo+json"];
}

/// <summary>
/// The properties a write (POST, PUT) must give; the OpenAPI document requires them in the write
/// bodies' schema (IncidentWriteDoc), not in the answers' (a properties= page leaves them out) nor in a
/// merge patch's (everything optional). IncidentInput refuses a Feature without them (422).
/// </summary>
public static class IncidentWriteDoc
{
    public static readonly string[] RequiredProperties = ["title", "event_type", "occurred_at"];
}

/// <summary>A JSON merge patch (RFC 7396) of an incident Feature: only the members to change.</summary>
public sealed record IncidentPatchDoc(
    [property: JsonPropertyName("geometry")] GeoJsonGeometry? Geometry,
    [property: JsonPropertyName("properties")] IncidentPropertiesDoc? Properties);

/// <summary>Where a report came from.</summary>
public sealed record SourceDoc(
    [property: JsonPropertyName("publisher")] string? Publisher,
    [property: JsonPropertyName("url")] Uri? Url,
    [property: JsonPropertyName("title")] string? Title,
    [property: JsonPropertyName("published_at")] DateTimeOffset? PublishedAt);

// One line: a summary's line breaks would reach the OpenAPI description with the comment's indentation.
/// <summary>Incident properties. Counts are bounds: "up to 60" is fatalities_max 60, "at least 50" is fatalities_min 50; null is unknown. Single-line text (title, external_id, sub_event_type, location_name, admin1, admin2, admin3, claimed_by, list items) is stored without the white space around it, so a filter on its words finds it, and holds no control characters; summary and sources as written (with no control characters but tabs and line breaks); blank text is null.</summary>
/// <param name="Title">Short headline. Required.</param>
/// <param name="Summary">What happened, in a few sentences.</param>
/// <param name="EventType">ACLED event type: battles, explosions_remote_violence, violence_against_civilians, protests, riots, strategic_developments. Required.</param>
/// <param name="SubEventType">ACLED sub-event type, e.g. "Suicide bomb".</param>
/// <param name="OccurredAt">When it happened (RFC 3339). A date (2016-02-21) or month (2016-02) is accepted and implies day or month precision. Required.</param>
/// <param name="TimePrecision">exact, day, week or month; occurred_at is truncated to the start of that day, ISO week or month on the calendar of the offset it was written in (2016-02-21T01:00:00+03:00 with day is 2016-02-21, though still the 20th in UTC), stored as that date at 00:00 UTC as a date written alone is, and time windows match the whole implied interval.</param>
/// <param name="LocationName">Place as reported, e.g. "Sayeda Zeinab".</param>
/// <param name="Admin1">First-level administrative division (governorate, province).</param>
/// <param name="Admin2">Second-level administrative division.</param>
/// <param name="Admin3">Third-level administrative division (ACLED's admin3, e.g. a sub-district).</param>
/// <param name="Country">ISO 3166-1 alpha-2 code (or XK, Kosovo's user-assigned code, as GeoNames gives it).</param>
/// <param name="GeoPrecision">How precise the geometry is: exact, near, town, region or country.</param>
/// <param name="FatalitiesMin">Lower bound of deaths ("at least").</param>
/// <param name="FatalitiesMax">Upper bound of deaths ("up to").</param>
/// <param name="InjuredMin">Lower bound of injured.</param>
/// <param name="InjuredMax">Upper bound of injured.</param>
/// <param name="Actors">Parties involved.</param>
/// <param name="ClaimedBy">Who claimed responsibility.</param>
/// <param name="Sources">Reports this incident is based on.</param>
/// <param name="Status">reported, verified, disputed or retracted.</param>
/// <param name="Tags">Free labels.</param>
/// <param name="ExternalId">Identifier in another dataset (e.g. an ACLED event id); unique among live incidents. Stored in Unicode NFC (at most 200 characters in that form), so its composed and decomposed spellings ("Café-1" with é as one code point, or as e and a combining U+0301) are the same key.</param>
/// <param name="PlaceId">Set by the server: the place (/collections/places) it geocoded location_name to, or the nearest place it named the location after (an editor's place deleted since answers 404).</param>
/// <param name="DerivedFields">Set by the server: which properties it filled in (geometry from location_name, or location_name/admin1/country from the nearest place within 25 km); country_undecided when places of two countries were about as near, so country and admin1 were left empty.</param>
/// <param name="CreatedAt">Set by the server.</param>
/// <param name="UpdatedAt">Set by the server.</param>
/// <param name="Version">Set by the server; bumped by every change; the ETag names it.</param>
/// <param name="DistanceM">Set by the server when the query has a point (lat and lon, or near), so on a radius search and a sort by distance, and only then: metres from that point, geodesic, to 0.1 m. Ignored in a request body.</param>
public sealed record IncidentPropertiesDoc(
    [property: JsonPropertyName("title")] string Title,
    [property: JsonPropertyName("summary")] string? Summary,
    [property: JsonPropertyName("event_type")] EventType EventType,
    [property: JsonPropertyName("sub_event_type")] string? SubEventType,
    [property: JsonPropertyName("occurred_at")] DateTimeOffset OccurredAt,
    [property: JsonPropertyName("time_precision")] TimePrecision? TimePrecision,
    [property: JsonPropertyName("location_name")] string? LocationName,
    [property: JsonPropertyName("admin1")] string? Admin1,
    [property: JsonPropertyName("admin2")] string? Admin2,
    [property: JsonPropertyName("admin3")] string? Admin3,
    [property: JsonPropertyName("country")] string? Country,
    [property: JsonPropertyName("geo_precision")] GeoPrecision? GeoPrecision,
    [property: JsonPropertyName("fatalities_min")] int? FatalitiesMin,
    [property: JsonPropertyName("fatalities_max")] int? FatalitiesMax,
    [property: JsonPropertyName("injured_min")] int? InjuredMin,
    [property: JsonPropertyName("injured_max")] int? InjuredMax,
    [property: JsonPropertyName("actors")] string[]? Actors,
    [property: JsonPropertyName("claimed_by")] string? ClaimedBy,
    [property: JsonPropertyName("sources")] SourceDoc[]? Sources,
    [property: JsonPropertyName("status")] IncidentStatus? Status,
    [property: JsonPropertyName("tags")] string[]? Tags,
    [property: JsonPropertyName("external_id")] string? ExternalId,
    [property: JsonPropertyName("place_id")] long? PlaceId,
    [property: JsonPropertyName("derived_fields")] string[]? DerivedFields,
    [property: JsonPropertyName("created_at")] DateTimeOffset? CreatedAt,
    [property: JsonPropertyName("updated_at")] DateTimeOffset? UpdatedAt,
    [property: JsonPropertyName("version")] int? Version,
    [property: JsonPropertyName("distance_m"), System.ComponentModel.ReadOnly(true)] double? DistanceM);

#pragma warning disable CA1707 // enum members spell the wire values
[JsonConverter(typeof(JsonStringEnumConverter<EventType>))]
public enum EventType { battles, explosions_remote_violence, violence_against_civilians, protests, riots, strategic_developments }

[JsonConverter(typeof(JsonStringEnumConverter<TimePrecision>))]
public enum TimePrecision { exact, day, week, month }

[JsonConverter(typeof(JsonStringEnumConverter<GeoPrecision>))]
public enum GeoPrecision { exact, near, town, region, country }

[JsonConverter(typeof(JsonStringEnumConverter<IncidentStatus>))]
public enum IncidentStatus { reported, verified, disputed, retracted }
#pragma warning restore CA1707

/// <summary>The revisions of one incident, oldest first.</summary>
public sealed record HistoryDoc(
    [property: JsonPropertyName("id")] long Id,
    [property: JsonPropertyName("revisions")] RevisionDoc[] Revisions);

/// <summary>One revision: who (the API key's name) changed which properties, and where to fetch it as it was.</summary>
public sealed record RevisionDoc(
    [property: JsonPropertyName("version")] int Version,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("changed_by")] string? ChangedBy,
    [property: JsonPropertyName("changed_at")] DateTime ChangedAt,
    [property: JsonPropertyName("changed_fields")] string[] ChangedFields,
    [property: JsonPropertyName("href")] string Href);
