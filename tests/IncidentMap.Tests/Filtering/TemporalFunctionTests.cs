using System.Net;
using Dapper;
using IncidentMap.Api.Filtering;
using IncidentMap.Tests.Infrastructure;
using static IncidentMap.Tests.Querying.QueryHelpers;

namespace IncidentMap.Tests.Filtering;

/// <summary>
/// CQL2's temporal functions (/conf/temporal-functions) against the real PostGIS. Every test inserts its own eight
/// incidents under a tag of its own; each is a run of microseconds, first to last (SqlCompiler.Temporal.cs):
/// <code>
/// jan   exact 2016-01-10T18:00:00Z               [J10 18:00, J10 18:00]
/// e     exact 2016-02-21T07:30:00Z               [21 07:30, 21 07:30]
/// d     day   2016-02-21                         [21 00:00, 21e]          21e = 2016-02-21T23:59:59.999999Z
/// w     week  2016-02-15 (Monday) to the 21st    [15 00:00, 21e]
/// m     month 2016-02                            [01 00:00, 29e]
/// last  exact 2016-02-21T23:59:59.999999Z        [21e, 21e]
/// mid   exact 2016-02-22T00:00:00Z               [22 00:00, 22 00:00]
/// mar   day   2016-03-01                         [M01 00:00, M01e]
/// </code>
/// updated_at, for property against property: jan its own instant; e a microsecond after it; d, last 2016-02-22T00:00Z
/// (the end of their day); w 2016-02-20 (inside its week); m 2016-03-01; mid 2016-02-23; mar 2016-02-01 (before it).
/// The expected incidents below are worked out by hand from those runs and the definitions.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class TemporalFunctionTests(ApiFixture api) : IAsyncLifetime
{
    private readonly string _tag = "tfun-" + Guid.NewGuid().ToString("N")[..12];
    private readonly Dictionary<long, string> _names = [];
    private readonly HttpClient _client = api.CreateClient();

    public async Task InitializeAsync()
    {
        await Insert("jan", "2016-01-10T18:00:00Z", "exact", "2016-01-10T18:00:00Z");
        await Insert("e", "2016-02-21T07:30:00Z", "exact", "2016-02-21T07:30:00.000001Z");
        await Insert("d", "2016-02-21T00:00:00Z", "day", "2016-02-22T00:00:00Z");
        await Insert("w", "2016-02-15T00:00:00Z", "week", "2016-02-20T00:00:00Z");
        await Insert("m", "2016-02-01T00:00:00Z", "month", "2016-03-01T00:00:00Z");
        await Insert("last", "2016-02-21T23:59:59.999999Z", "exact", "2016-02-22T00:00:00Z");
        await Insert("mid", "2016-02-22T00:00:00Z", "exact", "2016-02-23T00:00:00Z");
        await Insert("mar", "2016-03-01T00:00:00Z", "day", "2016-02-01T00:00:00Z");
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private const string All = "jan e d w m last mid mar";

    /// <summary>What each function answers for occurred_at against one operand, in CQL2 text and JSON.</summary>
    private static readonly (string Text, string Json, Dictionary<string, string> Expected)[] Table =
    [
        ("DATE('2016-02-21')", """{"date":"2016-02-21"}""", new()
        {
            ["T_BEFORE"] = "jan", ["T_AFTER"] = "mid mar", ["T_DISJOINT"] = "jan mid mar", ["T_INTERSECTS"] = "e d w m last",
            ["T_EQUALS"] = "d", ["T_MEETS"] = "", ["T_METBY"] = "last mid", ["T_OVERLAPS"] = "", ["T_OVERLAPPEDBY"] = "",
            ["T_STARTS"] = "", ["T_STARTEDBY"] = "", ["T_DURING"] = "e", ["T_CONTAINS"] = "m", ["T_FINISHES"] = "last",
            ["T_FINISHEDBY"] = "w",
        }),
        ("TIMESTAMP('2016-02-21T07:30:00Z')", """{"timestamp":"2016-02-21T07:30:00Z"}""", new()
        {
            ["T_BEFORE"] = "jan", ["T_AFTER"] = "last mid mar", ["T_DISJOINT"] = "jan last mid mar", ["T_INTERSECTS"] = "e d w m",
            ["T_EQUALS"] = "e", ["T_MEETS"] = "e", ["T_METBY"] = "e", ["T_OVERLAPS"] = "", ["T_OVERLAPPEDBY"] = "",
            ["T_STARTS"] = "", ["T_STARTEDBY"] = "", ["T_DURING"] = "", ["T_CONTAINS"] = "d w m", ["T_FINISHES"] = "",
            ["T_FINISHEDBY"] = "",
        }),
        // The day 2016-02-21 (and the week, and the instant 21e) ends where this starts: it meets it, and shares no instant.
        ("INTERVAL('2016-02-22', '..')", """{"interval":["2016-02-22",".."]}""", new()
        {
            ["T_BEFORE"] = "jan e d w last", ["T_AFTER"] = "", ["T_DISJOINT"] = "jan e d w last", ["T_INTERSECTS"] = "m mid mar",
            ["T_EQUALS"] = "", ["T_MEETS"] = "d w last mid", ["T_METBY"] = "", ["T_OVERLAPS"] = "m", ["T_OVERLAPPEDBY"] = "",
            ["T_STARTS"] = "mid", ["T_STARTEDBY"] = "", ["T_DURING"] = "mar", ["T_CONTAINS"] = "", ["T_FINISHES"] = "",
            ["T_FINISHEDBY"] = "",
        }),
        ("INTERVAL('..', '2016-02-21')", """{"interval":["..","2016-02-21"]}""", new()
        {
            ["T_BEFORE"] = "", ["T_AFTER"] = "mid mar", ["T_DISJOINT"] = "mid mar", ["T_INTERSECTS"] = "jan e d w m last",
            ["T_EQUALS"] = "", ["T_MEETS"] = "", ["T_METBY"] = "last mid", ["T_OVERLAPS"] = "", ["T_OVERLAPPEDBY"] = "m",
            ["T_STARTS"] = "", ["T_STARTEDBY"] = "", ["T_DURING"] = "jan e", ["T_CONTAINS"] = "", ["T_FINISHES"] = "d w last",
            ["T_FINISHEDBY"] = "",
        }),
        // The week's own days: equal to it, ending with the day and the last instant of the 21st.
        ("INTERVAL('2016-02-15', '2016-02-21')", """{"interval":["2016-02-15","2016-02-21"]}""", new()
        {
            ["T_BEFORE"] = "jan", ["T_AFTER"] = "mid mar", ["T_DISJOINT"] = "jan mid mar", ["T_INTERSECTS"] = "e d w m last",
            ["T_EQUALS"] = "w", ["T_MEETS"] = "", ["T_METBY"] = "last mid", ["T_OVERLAPS"] = "", ["T_OVERLAPPEDBY"] = "",
            ["T_STARTS"] = "", ["T_STARTEDBY"] = "", ["T_DURING"] = "e", ["T_CONTAINS"] = "m", ["T_FINISHES"] = "d last",
            ["T_FINISHEDBY"] = "",
        }),
        // Timestamps: both ends included, so the instant 2016-02-22T00:00Z is its last and the day 2016-02-21 is inside it.
        ("INTERVAL('2016-02-01T00:00:00Z', '2016-02-22T00:00:00Z')", """{"interval":["2016-02-01T00:00:00Z","2016-02-22T00:00:00Z"]}""", new()
        {
            ["T_BEFORE"] = "jan", ["T_AFTER"] = "mar", ["T_DISJOINT"] = "jan mar", ["T_INTERSECTS"] = "e d w m last mid",
            ["T_EQUALS"] = "", ["T_MEETS"] = "", ["T_METBY"] = "mid", ["T_OVERLAPS"] = "", ["T_OVERLAPPEDBY"] = "",
            ["T_STARTS"] = "", ["T_STARTEDBY"] = "m", ["T_DURING"] = "e d w last", ["T_CONTAINS"] = "", ["T_FINISHES"] = "mid",
            ["T_FINISHEDBY"] = "",
        }),
        ("INTERVAL('2016-02-01', '2016-02-29')", """{"interval":["2016-02-01","2016-02-29"]}""", new()
        {
            ["T_BEFORE"] = "jan", ["T_AFTER"] = "mar", ["T_DISJOINT"] = "jan mar", ["T_INTERSECTS"] = "e d w m last mid",
            ["T_EQUALS"] = "m", ["T_MEETS"] = "", ["T_METBY"] = "mar", ["T_OVERLAPS"] = "", ["T_OVERLAPPEDBY"] = "",
            ["T_STARTS"] = "", ["T_STARTEDBY"] = "", ["T_DURING"] = "e d w last mid", ["T_CONTAINS"] = "", ["T_FINISHES"] = "",
            ["T_FINISHEDBY"] = "",
        }),
        ("INTERVAL('2016-02-21T07:30:00Z', '..')", """{"interval":["2016-02-21T07:30:00Z",".."]}""", new()
        {
            ["T_BEFORE"] = "jan", ["T_AFTER"] = "", ["T_DISJOINT"] = "jan", ["T_INTERSECTS"] = "e d w m last mid mar",
            ["T_EQUALS"] = "", ["T_MEETS"] = "e", ["T_METBY"] = "", ["T_OVERLAPS"] = "d w m", ["T_OVERLAPPEDBY"] = "",
            ["T_STARTS"] = "e", ["T_STARTEDBY"] = "", ["T_DURING"] = "last mid mar", ["T_CONTAINS"] = "", ["T_FINISHES"] = "",
            ["T_FINISHEDBY"] = "",
        }),
        // Property against property: each incident's period against its own updated_at, an instant.
        ("updated_at", """{"property":"updated_at"}""", new()
        {
            ["T_BEFORE"] = "e d m last mid", ["T_AFTER"] = "mar", ["T_DISJOINT"] = "e d m last mid mar", ["T_INTERSECTS"] = "jan w",
            ["T_EQUALS"] = "jan", ["T_MEETS"] = "jan e d m last", ["T_METBY"] = "jan", ["T_OVERLAPS"] = "", ["T_OVERLAPPEDBY"] = "",
            ["T_STARTS"] = "", ["T_STARTEDBY"] = "", ["T_DURING"] = "", ["T_CONTAINS"] = "w", ["T_FINISHES"] = "",
            ["T_FINISHEDBY"] = "",
        }),
    ];

    private static readonly Dictionary<string, string> Inverse = new()
    {
        ["T_BEFORE"] = "T_AFTER", ["T_AFTER"] = "T_BEFORE", ["T_MEETS"] = "T_METBY", ["T_METBY"] = "T_MEETS",
        ["T_OVERLAPS"] = "T_OVERLAPPEDBY", ["T_OVERLAPPEDBY"] = "T_OVERLAPS", ["T_STARTS"] = "T_STARTEDBY", ["T_STARTEDBY"] = "T_STARTS",
        ["T_DURING"] = "T_CONTAINS", ["T_CONTAINS"] = "T_DURING", ["T_FINISHES"] = "T_FINISHEDBY", ["T_FINISHEDBY"] = "T_FINISHES",
        ["T_EQUALS"] = "T_EQUALS", ["T_DISJOINT"] = "T_DISJOINT", ["T_INTERSECTS"] = "T_INTERSECTS",
    };

    public static TheoryData<string, string> Functions()
    {
        var data = new TheoryData<string, string>();
        foreach (var (text, _, expected) in Table)
            foreach (var function in expected.Keys)
                data.Add(function, text);
        return data;
    }

    /// <summary>
    /// Each function of occurred_at and an operand, as CQL2 text and as CQL2 JSON, and its inverse with the operands
    /// exchanged (T_AFTER(x, occurred_at) for T_BEFORE(occurred_at, x)), selects the incidents worked out by hand.
    /// </summary>
    [Theory]
    [MemberData(nameof(Functions))]
    public async Task Each_function_selects_the_incidents_its_definition_gives(string function, string operand)
    {
        var (_, json, expected) = Table.Single(t => t.Text == operand);
        var wanted = Names(expected[function]);

        Assert.Equal(wanted, await Matching($"{function}(occurred_at, {operand})"));
        Assert.Equal(wanted, await Matching($$"""{"op":"{{function.ToLowerInvariant()}}","args":[{"property":"occurred_at"},{{json}}]}""", Cql2.JsonLanguage));
        Assert.Equal(wanted, await Matching($"{Inverse[function]}({operand}, occurred_at)"));
        // NOT is the rest: every row has an answer (no NULL), so no incident is in neither.
        Assert.Equal(Names(All).Except(wanted).ToList(), await Matching($"NOT {function}(occurred_at, {operand})"));
    }

    /// <summary>CQL2's own identities: T_DISJOINT is T_BEFORE or T_AFTER, and T_INTERSECTS (as it always compiled) its negation.</summary>
    [Theory]
    [MemberData(nameof(Operands))]
    public async Task Disjoint_is_before_or_after_and_the_negation_of_intersects(string operand)
    {
        var disjoint = await Matching($"T_DISJOINT(occurred_at, {operand})");

        Assert.Equal(disjoint, await Matching($"T_BEFORE(occurred_at, {operand}) OR T_AFTER(occurred_at, {operand})"));
        Assert.Equal(disjoint, await Matching($"NOT T_INTERSECTS(occurred_at, {operand})"));
        // T_INTERSECTS of an INTERVAL of properties is compiled by the temporal functions: the same answer.
        Assert.Equal(disjoint, await Matching($"NOT T_INTERSECTS(INTERVAL(occurred_at, occurred_at), {operand})"));
    }

    public static TheoryData<string> Operands() => [.. Table.Select(t => t.Text)];

    // INTERVAL(property, property) (/conf/temporal-functions/temporal-functions-2): from occurred_at's start to updated_at.
    // mar was updated before it happened: its interval would end before it starts, so it is no interval, and neither
    // the function nor its NOT selects it.
    [Theory]
    [InlineData("T_DURING(INTERVAL(occurred_at, updated_at), INTERVAL('2016-02-01', '2016-02-29'))", "e d w last mid")]
    [InlineData("NOT T_DURING(INTERVAL(occurred_at, updated_at), INTERVAL('2016-02-01', '2016-02-29'))", "jan m")]
    [InlineData("T_AFTER(INTERVAL(occurred_at, updated_at), INTERVAL('..', '2016-02-21'))", "mid")]
    [InlineData("T_INTERSECTS(INTERVAL(occurred_at, updated_at), DATE('2016-02-22'))", "d m last mid")]
    [InlineData("T_STARTEDBY(INTERVAL(occurred_at, updated_at), occurred_at)", "e d m last mid")] // ends after its own period
    [InlineData("T_EQUALS(INTERVAL(occurred_at, updated_at), occurred_at)", "jan")]
    [InlineData("T_STARTS(INTERVAL(occurred_at, updated_at), occurred_at)", "w")] // ends on the 20th, inside its week
    [InlineData("T_EQUALS(INTERVAL(occurred_at, occurred_at), occurred_at)", All)]
    [InlineData("T_MEETS(INTERVAL('..', occurred_at), INTERVAL(updated_at, '..'))", "jan e d m last")]
    [InlineData("T_BEFORE(INTERVAL('2016-01-01', occurred_at), DATE('2016-02-22'))", "jan e d w last")]
    public async Task An_interval_of_properties_runs_from_the_first_to_the_last_of_its_ends(string filter, string expected)
    {
        Assert.Equal(Names(expected), await Matching(filter));
    }

    [Fact]
    public async Task An_interval_of_properties_in_cql2_json_is_the_texts()
    {
        const string json = """{"op":"t_during","args":[{"interval":[{"property":"occurred_at"},{"property":"updated_at"}]},{"interval":["2016-02-01","2016-02-29"]}]}""";

        Assert.Equal(Names("e d w last mid"), await Matching(json, Cql2.JsonLanguage));
        Assert.Equal(Names("mid"), await Matching(
            """{"op":"t_after","args":[{"interval":[{"property":"occurred_at"},"2016-02-22T00:00:00Z"]},{"interval":["..","2016-02-21"]}]}""", Cql2.JsonLanguage));
    }

    // Two values are compared here, to TRUE or FALSE: every incident or none. Open ends equal each other and no time.
    [Theory]
    [InlineData("T_MEETS(DATE('2016-02-21'), DATE('2016-02-22'))", true)]
    [InlineData("T_BEFORE(DATE('2016-02-21'), DATE('2016-02-22'))", true)]
    [InlineData("T_INTERSECTS(DATE('2016-02-21'), DATE('2016-02-22'))", false)]
    [InlineData("T_EQUALS(DATE('2016-02-21'), INTERVAL('2016-02-21', '2016-02-21'))", true)]
    [InlineData("T_EQUALS(TIMESTAMP('2016-02-21T00:00:00Z'), DATE('2016-02-21'))", false)]
    [InlineData("T_STARTS(TIMESTAMP('2016-02-21T00:00:00Z'), DATE('2016-02-21'))", true)]
    [InlineData("T_EQUALS(INTERVAL('..', '..'), INTERVAL('..', '..'))", true)]
    [InlineData("T_STARTS(INTERVAL('..', '2016-01-01'), INTERVAL('..', '2016-02-01'))", true)]
    [InlineData("T_DURING(INTERVAL('..', '2016-01-01'), INTERVAL('..', '2016-02-01'))", false)]
    [InlineData("T_FINISHES(INTERVAL('2016-01-01', '..'), INTERVAL('2015-01-01', '..'))", true)]
    [InlineData("T_METBY(INTERVAL('2016-04-16T10:15:10Z', '..'), INTERVAL('2016-04-16T10:13:19Z', '2016-04-16T10:15:10Z'))", true)]
    [InlineData("T_OVERLAPPEDBY(INTERVAL('2016-04-16T10:15:10Z', '..'), INTERVAL('2016-04-16T10:13:19Z', '2016-04-16T10:15:10Z'))", false)]
    [InlineData("T_DURING(INTERVAL('1969-07-20T20:17:40Z', '1969-07-21T17:54:00Z'), INTERVAL('1969-07-16T13:32:00Z', '1969-07-24T16:50:35Z'))", true)]
    [InlineData("T_BEFORE(DATE('0000-06-01'), DATE('0001-01-01'))", true)]
    [InlineData("T_AFTER(DATE('0000-06-01'), TIMESTAMP('0000-05-31T23:59:59.999999Z'))", true)]
    public async Task Two_values_are_compared_once(string filter, bool holds)
    {
        var compiled = Cql2Assert.Compiles(filter);

        Assert.Equal(holds ? "TRUE" : "FALSE", compiled.Sql);
        Assert.Equal(holds ? Names(All) : [], await Matching(filter));
    }

    // A time in year 0000 is before every stored one; the first instant of year 1 (-infinity to Npgsql) too.
    [Theory]
    [InlineData("T_BEFORE(occurred_at, DATE('0000-06-01'))", "")]
    [InlineData("T_AFTER(occurred_at, TIMESTAMP('0000-06-01T00:00:00Z'))", All)]
    [InlineData("T_DURING(occurred_at, INTERVAL('0000-06-01', '2016-02-21'))", "jan e")]
    [InlineData("T_AFTER(occurred_at, TIMESTAMP('0001-01-01T00:00:00Z'))", All)]
    [InlineData("T_EQUALS(occurred_at, TIMESTAMP('0001-01-01T00:00:00Z'))", "")]
    public async Task Times_before_year_one_are_before_every_incident(string filter, string expected)
    {
        Assert.Equal(Names(expected), await Matching(filter));
    }

    [Theory]
    [InlineData("T_BEFORE(occurred_at)", 0, "T_BEFORE takes 2 arguments, not 1")]
    [InlineData("T_DURING(occurred_at, DATE('2016-01-01'), DATE('2016-01-02'))", 0, "T_DURING takes 2 arguments, not 3")]
    [InlineData("T_AFTER(geometry, DATE('2016-01-01'))", 8, "T_AFTER takes a time (a timestamp property such as occurred_at, a TIMESTAMP, DATE or INTERVAL), not geometry (a geometry)")]
    [InlineData("T_DURING(occurred_at, POINT(36 34))", 22, "T_DURING takes a time")]
    [InlineData("T_MEETS(title, DATE('2016-01-01'))", 8, "not title (a string)")]
    [InlineData("T_STARTS(occurred_at, '2016-01-01')", 22, "not a string")]
    [InlineData("T_EQUALS(occurred_at, fatalities_max)", 22, "not fatalities_max (a number)")]
    [InlineData("T_CONTAINS(occurred_at, Occurred_at)", 24, "did you mean 'occurred_at'?")]
    [InlineData("T_FINISHES(INTERVAL(title, '..'), DATE('2016-01-01'))", 20, "T_FINISHES takes a time")]
    [InlineData("T_OVERLAPS(INTERVAL(occurred_at, 5), DATE('2016-01-01'))", 33, "the end of an INTERVAL is a date, a timestamp, '..' or a timestamp property, not a number")]
    [InlineData("T_OVERLAPS(INTERVAL(occurred_at, 'soon'), DATE('2016-01-01'))", 33, "'soon' is not an RFC 3339 timestamp")]
    [InlineData("T_STARTEDBY(INTERVAL('2016-02-01', '2016-01-01'), occurred_at)", 12, "the interval starts after it ends")]
    [InlineData("T_METBY(occurred_at, INTERVAL(occurred_at))", 41, "expected ','")]
    [InlineData("INTERVAL(occurred_at, updated_at) = TIMESTAMP('2016-01-01T00:00:00Z')", 0, "an interval is only allowed in the temporal functions")]
    [InlineData("occurred_at = INTERVAL('2016-01-01', '..')", 14, "an interval is only allowed in the temporal functions")]
    [InlineData("T_BEGINS(occurred_at, DATE('2016-01-01'))", 0, "T_BEGINS is not supported")]
    public void A_malformed_temporal_function_is_refused_at_its_position(string filter, int position, string message)
    {
        Cql2Assert.Fails(filter, position, message);
    }

    [Theory]
    [InlineData("""{"op":"t_before","args":[{"property":"occurred_at"}]}""", "$: T_BEFORE takes 2 arguments, not 1")]
    [InlineData("""{"op":"t_after","args":[{"property":"geometry"},{"date":"2016-01-01"}]}""", "$.args[0]: T_AFTER takes a time")]
    [InlineData("""{"op":"t_during","args":[{"interval":[{"property":"occurred_at"},5]},{"date":"2016-01-01"}]}""", "$.args[0].interval[1]: the end of an INTERVAL")]
    [InlineData("""{"op":"t_during","args":[{"interval":[{"property":"title"},".."]},{"date":"2016-01-01"}]}""", "$.args[0].interval[0]: T_DURING takes a time")]
    [InlineData("""{"op":"t_during","args":[{"interval":[{"property":"occurred_at"}]},{"date":"2016-01-01"}]}""", "$.args[0]: an interval has two ends")]
    [InlineData("""{"op":"t_during","args":[{"interval":[{"property":"occurred_at"},"later"]},{"date":"2016-01-01"}]}""", "$.args[0].interval[1]: 'later'")]
    public void A_malformed_temporal_function_in_cql2_json_is_refused_at_its_path(string filter, string message)
    {
        var error = Cql2Assert.Fails(filter, -1, message, Cql2.JsonLanguage);
        Assert.StartsWith(message, error.Message);
    }

    [Fact]
    public async Task A_malformed_temporal_function_is_a_400_naming_the_filter_and_the_position()
    {
        var response = await _client.GetAsync($"{Items}?filter={Esc("T_AFTER(geometry, DATE('2016-01-01'))")}");

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "filter");
        Assert.Contains("at position 8: T_AFTER takes a time", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_items_endpoint_answers_a_temporal_function()
    {
        var ids = await _client.IdsAsync($"tags={_tag}&filter={Esc("T_MEETS(occurred_at, INTERVAL('2016-02-22', '..'))")}");

        Assert.Equal(Names("d w last mid"), Names(string.Join(' ', ids.Select(id => _names[id]))));
    }

    [Fact]
    public async Task Conformance_declares_temporal_functions()
    {
        var conformance = await _client.GetStringAsync("/conformance");

        Assert.Contains("\"http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions\"", conformance);
    }

    private async Task Insert(string name, string occurredAt, string precision, string updatedAt)
    {
        await using var connection = await api.Database.OpenConnectionAsync();
        var id = await connection.ExecuteScalarAsync<long>(
            """
            INSERT INTO incidents (title, event_type, occurred_at, time_precision, geom, tags, country, created_at, updated_at)
            VALUES (@name, 'battles', @occurredAt::timestamptz, @precision, ST_GeomFromText('POINT(36.7 34.7)', 4326), @tags, 'SY',
                    @updatedAt::timestamptz, @updatedAt::timestamptz)
            RETURNING id
            """,
            new { name, occurredAt, precision, tags = new[] { _tag }, updatedAt });
        _names[id] = name;
    }

    private Task<List<string>> Matching(string filter, string lang = Cql2.TextLanguage) => Cql2Assert.MatchingAsync(api.Database, filter, lang, _tag, _names);

    private static List<string> Names(string names) => Cql2Assert.Names(names);
}
