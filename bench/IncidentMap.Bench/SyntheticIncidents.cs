using System.Text.Json;
using NetTopologySuite.Geometries;

namespace IncidentMap.Bench;

/// <summary>One generated incident: the columns <see cref="Loader"/> copies, in its column order.</summary>
public sealed record SyntheticIncident(
    string Title, string Summary, string EventType, string SubEventType,
    DateTime OccurredAt, string TimePrecision,
    string? LocationName, string? Admin1, string? Country, string GeoPrecision,
    int? FatalitiesMin, int? FatalitiesMax, int? InjuredMin, int? InjuredMax,
    string[] Actors, string? ClaimedBy, string Sources, string Status, string[] Tags,
    string ExternalId, Point Geom);

/// <summary>
/// Realistic-looking incidents: most cluster around conflict cities (so radius and bbox searches hit
/// dense areas), tolls are mostly unknown or zero with a long tail, and titles carry words for
/// full-text search. The same seed always yields the same incidents.
/// </summary>
public sealed class SyntheticIncidents(int seed, long count)
{
    /// <summary>Fixed rather than "now", so a seed gives the same data whenever it runs.</summary>
    private static readonly DateTime End = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private static readonly long TenYearsInSeconds = (long)TimeSpan.FromDays(3652).TotalSeconds;
    private static readonly long ReportingLagSeconds = (long)TimeSpan.FromDays(3).TotalSeconds;
    private const double ScatteredShare = 0.10;
    private const double BackfilledShare = 0.05;

    private sealed record Subtype(string SubEventType, string Headline);

    /// <summary>An event type with how often it occurs, its ACLED sub-types and how deadly it tends to be.</summary>
    private sealed record Kind(string EventType, int Weight, Subtype[] Subtypes, string[] Tags,
        double UnknownToll, double ZeroToll, double TollScale);

    private static readonly Kind[] Kinds =
    [
        new("battles", 30,
            [new("Armed clash", "Clashes"), new("Government regains territory", "Army retakes positions"),
             new("Non-state actor overtakes territory", "Militants seize village")],
            ["clash", "frontline", "checkpoint", "civilians"], 0.30, 0.15, 2),
        new("explosions_remote_violence", 25,
            [new("Shelling/artillery/missile attack", "Shelling"), new("Air/drone strike", "Air strike"),
             new("Air/drone strike", "Drone strike"), new("Suicide bomb", "Suicide bombing"),
             new("Remote explosive/landmine/IED", "Roadside bomb"), new("Grenade", "Grenade attack")],
            ["shelling", "airstrike", "drone", "ied", "artillery", "hospital", "market", "civilians"], 0.30, 0.25, 2),
        new("violence_against_civilians", 20,
            [new("Attack", "Gunmen kill civilians"), new("Attack", "Massacre"),
             new("Abduction/forced disappearance", "Abduction")],
            ["civilians", "children", "abduction", "execution"], 0.30, 0.20, 1.5),
        new("protests", 15,
            [new("Peaceful protest", "Protest"), new("Protest with intervention", "Protest dispersed"),
             new("Excessive force against protesters", "Protesters shot")],
            ["protest", "students", "fuel-prices", "elections"], 0.35, 0.60, 1),
        new("riots", 5,
            [new("Violent demonstration", "Riot"), new("Mob violence", "Mob attack")],
            ["riot", "looting"], 0.40, 0.40, 1),
        new("strategic_developments", 5,
            [new("Arrests", "Arrests"), new("Agreement", "Local ceasefire agreed"),
             new("Looting/property destruction", "Looting"), new("Headquarters or base established", "New base established")],
            ["arrests", "ceasefire", "base"], 0.60, 0.35, 1),
    ];

    private static readonly string[] Publishers = ["Reuters", "AFP", "Associated Press", "Al Jazeera", "BBC News", "Local media", "OCHA"];

    private static readonly GeometryFactory Factory = new(new PrecisionModel(), 4326);
    private static readonly int TotalCityWeight = Places.Cities.Sum(c => c.Weight);
    private static readonly int TotalKindWeight = Kinds.Sum(k => k.Weight);

    private readonly Random random = new(seed);

    public SyntheticIncident Next(long n)
    {
        var kind = PickWeighted(Kinds, k => k.Weight, TotalKindWeight);
        var subtype = Pick(kind.Subtypes);
        var city = random.NextDouble() < ScatteredShare ? null : PickWeighted(Places.Cities, c => c.Weight, TotalCityWeight);

        var (lon, lat) = city is null
            ? (random.NextDouble() * 360 - 180, random.NextDouble() * 125 - 55)
            : (Math.Clamp(city.Lon + Gaussian() * city.Spread, -180, 180), Math.Clamp(city.Lat + Gaussian() * city.Spread, -90, 90));
        var (occurredAt, timePrecision) = OccurredAt(n);

        var actors = PickActors(city?.Country);
        var claimedBy = kind.EventType is "explosions_remote_violence" or "violence_against_civilians" && random.NextDouble() < 0.15
            ? actors[0] : null;
        var (fatalitiesMin, fatalitiesMax) = Toll(kind.UnknownToll, kind.ZeroToll, kind.TollScale);
        var (injuredMin, injuredMax) = Toll(0.50, 0.15, kind.TollScale * 2);

        var place = city is null ? "a remote area" : city.Name;
        var preposition = random.Next(2) == 0 ? "near" : "in";
        var title = $"{subtype.Headline} {preposition} {place}";
        var summary = $"{subtype.Headline} {preposition} {place} involving {string.Join(" and ", actors)}. {TollSentence(fatalitiesMin, fatalitiesMax, injuredMin, injuredMax)}";

        return new SyntheticIncident(
            title, summary, kind.EventType, subtype.SubEventType, occurredAt, timePrecision,
            city is null ? null : (random.Next(3) == 0 ? $"{city.Name} outskirts" : city.Name), city?.Admin1, city?.Country,
            city is null ? Pick(["region", "country"]) : Pick(["exact", "exact", "near", "near", "town"]),
            fatalitiesMin, fatalitiesMax, injuredMin, injuredMax,
            actors, claimedBy, Sources(n, title, occurredAt), Status(), Tags(kind), $"bench:{n}",
            Factory.CreatePoint(new Coordinate(lon, lat)));
    }

    private T PickWeighted<T>(IReadOnlyList<T> items, Func<T, int> weight, int totalWeight)
    {
        var r = random.Next(totalWeight);
        foreach (var item in items)
            if ((r -= weight(item)) < 0) return item;
        throw new InvalidOperationException("weights do not add up");
    }

    private T Pick<T>(T[] items) => items[random.Next(items.Length)];

    /// <summary>Standard normal deviate (Box–Muller).</summary>
    private double Gaussian() =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    /// <summary>
    /// Incident n of <c>count</c> happened about n/count of the way through the ten years, a few days
    /// before it was stored, as a live feed stores them; a few are backfilled from any time. Mostly
    /// exact times; day and month precision are truncated as the API stores them.
    /// </summary>
    private (DateTime, string) OccurredAt(long n)
    {
        var secondsBeforeEnd = random.NextDouble() < BackfilledShare
            ? random.NextInt64(TenYearsInSeconds)
            : (long)(TenYearsInSeconds * (count - n + random.NextDouble()) / count) + random.NextInt64(ReportingLagSeconds);
        var at = End.AddSeconds(-Math.Min(secondsBeforeEnd, TenYearsInSeconds));
        return random.NextDouble() switch
        {
            < 0.60 => (at, "exact"),
            < 0.90 => (at.Date, "day"),
            _ => (new DateTime(at.Year, at.Month, 1, 0, 0, 0, DateTimeKind.Utc), "month"),
        };
    }

    /// <summary>Unknown, zero, or a long-tailed count reported exactly, as a range, "up to" or "at least".</summary>
    private (int? Min, int? Max) Toll(double unknown, double zero, double scale)
    {
        var r = random.NextDouble();
        if (r < unknown) return (null, null);
        if (r < unknown + zero) return (0, 0);
        var n = Tail(scale);
        return random.NextDouble() switch
        {
            < 0.70 => (n, n),
            < 0.85 => (n, n + Tail(scale)),
            < 0.95 => (null, n),
            _ => (n, null),
        };
    }

    /// <summary>Pareto-distributed count of at least 1: most incidents kill few, a few kill hundreds.</summary>
    private int Tail(double scale) => (int)Math.Min(5000, Math.Ceiling(scale / Math.Pow(1 - random.NextDouble(), 1 / 1.3)));

    private static string TollSentence(int? killedMin, int? killedMax, int? injuredMin, int? injuredMax)
    {
        if (killedMin is null && killedMax is null) return "Casualties are not known.";
        var killed = Figure(killedMin, killedMax);
        return injuredMin is null && injuredMax is null
            ? $"Local sources report {killed} killed."
            : $"Local sources report {killed} killed and {Figure(injuredMin, injuredMax)} injured.";
    }

    private static string Figure(int? min, int? max) => (min, max) switch
    {
        (0, 0) => "no one",
        (null, { } m) => $"up to {m}",
        ({ } m, null) => $"at least {m}",
        var (a, b) when a == b => $"{a}",
        var (a, b) => $"{a} to {b}",
    };

    private string[] PickActors(string? country)
    {
        var local = country is null ? Places.AnyActors : Places.Actors[country];
        var first = Pick(local);
        if (random.NextDouble() < 0.4) return [first];
        var second = Pick(random.NextDouble() < 0.7 ? local : Places.AnyActors);
        return second == first ? [first] : [first, second];
    }

    private string Status() => random.NextDouble() switch
    {
        < 0.70 => "reported",
        < 0.90 => "verified",
        < 0.98 => "disputed",
        _ => "retracted",
    };

    private string[] Tags(Kind kind)
    {
        var count = random.Next(4);
        return Enumerable.Range(0, count).Select(_ => Pick(kind.Tags)).Distinct().ToArray();
    }

    private string Sources(long n, string title, DateTime occurredAt)
    {
        var sources = Enumerable.Range(0, 1 + random.Next(3)).Select(s =>
        {
            var publisher = Pick(Publishers);
            return new
            {
                publisher,
                url = $"https://news.example.org/{publisher.ToLowerInvariant().Replace(' ', '-')}/{n}-{s}",
                title,
                published_at = occurredAt.AddHours(random.Next(1, 72)).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"),
            };
        });
        return JsonSerializer.Serialize(sources);
    }
}
