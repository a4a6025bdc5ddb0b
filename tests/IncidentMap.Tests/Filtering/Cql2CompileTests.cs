using System.Text.RegularExpressions;
using IncidentMap.Api.Filtering;
using NetTopologySuite.Geometries;

namespace IncidentMap.Tests.Filtering;

public sealed class Cql2CompileTests
{
    private static readonly GeometryFactory Factory = new(new PrecisionModel(), 4326);

    private static DateTimeOffset Utc(int year, int month, int day, int hour = 0, int minute = 0) =>
        new(year, month, day, hour, minute, 0, TimeSpan.Zero);

    /// <summary>The last microsecond of a day: the inclusive end of a DATE.</summary>
    private static DateTimeOffset EndOfDay(int year, int month, int day) => Utc(year, month, day).AddDays(1).AddTicks(-10);

    public static TheoryData<string, string, object[]> ValidFilters => new()
    {
        { "event_type = 'battles'", "i.event_type = @f0", ["battles"] },
        { "'battles' = event_type", "i.event_type = @f0", ["battles"] },
        { "fatalities_max > 50", "i.fatalities_max > @f0", [50L] },
        { "50 < fatalities_max", "i.fatalities_max > @f0", [50L] },
        { "injured_min <= -1.5", "i.injured_min <= @f0::numeric", ["-1.5"] },
        // A whole number stays a bigint however it is written, which an integer column's index serves; any
        // other number is its exact decimal, compared as numeric (a double would make this one 51).
        { "id = 51.000", "i.id = @f0", [51L] },
        { "id = 5.1e1", "i.id = @f0", [51L] },
        { "id = 51.00000000000000001", "i.id = @f0::numeric", ["51.00000000000000001"] },
        { "id IN (51, 5.1E-3)", "i.id IN (@f0, @f1::numeric)", [51L, "0.0051"] },
        { "id = 1e20", "i.id = @f0::numeric", ["100000000000000000000"] },
        { "id < 1e308", "i.id < @f0::numeric", ["1" + new string('0', 308)] },
        { "id > 1e-400", "i.id > @f0::numeric", ["0." + new string('0', 399) + "1"] },
        { "id > -00.0", "i.id > @f0", [0L] },
        { "id <> 7", "i.id <> @f0", [7L] },
        // Equality with a code compares the character(2) column itself, which its index serves; anything else
        // compares text, as CQL2 says (a trailing space would be ignored by character(2)).
        { "country = 'SY'", "i.country = @f0::bpchar", ["SY"] },
        { "'SY' = country", "i.country = @f0::bpchar", ["SY"] },
        { "country IN ('ZW', 'ZA')", "i.country IN (@f0::bpchar, @f1::bpchar)", ["ZW", "ZA"] },
        { "country IN ('ZW', 'ZA ')", "i.country::text IN (@f0, @f1)", ["ZW", "ZA "] }, // text, as CQL2 compares it
        { "country = 'SY '", "i.country::text = @f0", ["SY "] },
        { "country <> 'SY'", "i.country::text <> @f0", ["SY"] },
        { "country LIKE 'S%'", "i.country::text LIKE @f0", ["S%"] },
        { "summary IS NULL", "i.summary IS NULL", [] },
        { "summary is not null", "NOT (i.summary IS NULL)", [] },
        { "title LIKE '%Homs%'", "i.title LIKE @f0", ["%Homs%"] },
        { "title NOT LIKE 'a\\%b'", "NOT (i.title LIKE @f0)", ["a\\%b"] },
        // A folded pattern is folded between its wildcards, never across them (the runs, then which of them are wildcards).
        { "CASEI(title) LIKE CASEI('%HOMS%')", $"{CaseFolding.Sql("i.title", "i.title")} LIKE (SELECT string_agg(CASE WHEN p.wild THEN p.run ELSE replace(replace(replace({CaseFolding.Sql("p.run", "p.run")}, ", new object[] { new[] { "%", "HOMS", "%" }, new[] { true, false, true } } },
        { "CASEI(claimed_by) = CASEI('Islamic State')", $"{CaseFolding.Sql("i.claimed_by", "i.claimed_by")} = (SELECT {CaseFolding.Sql("@f0", "@f0")})", ["Islamic State"] },
        // The test that decides whether more than lower() is needed looks at the text before ACCENTI changes it.
        { "CASEI(ACCENTI(title)) = 'x'",
            $"{CaseFolding.Sql("public.accent_fold(i.title)", "i.title")} = @f0", ["x"] },
        { "fatalities_min BETWEEN 0 AND 10", "i.fatalities_min BETWEEN @f0 AND @f1", [0L, 10L] },
        { "fatalities_min NOT BETWEEN 0 AND 10", "NOT (i.fatalities_min BETWEEN @f0 AND @f1)", [0L, 10L] },
        { "event_type IN ('riots', 'protests')", "i.event_type IN (@f0, @f1)", ["riots", "protests"] },
        { "status NOT IN ('retracted')", "NOT (i.status IN (@f0))", ["retracted"] },
        { "title = 'it''s'", "i.title = @f0", ["it's"] },
        { "title = 'it\\'s'", "i.title = @f0", ["it's"] },
        { "title LIKE '%\\\\'", "i.title LIKE @f0", ["%\\\\"] },
        { "\"title\" = 'x'", "i.title = @f0", ["x"] },
        { "TRUE", "@f0", [true] },
        { "id = 1 OR version = 2 AND injured_max = 3", "(i.id = @f0 OR (i.version = @f1 AND i.injured_max = @f2))", [1L, 2L, 3L] },
        { "(id = 1 OR version = 2) AND injured_max = 3", "((i.id = @f0 OR i.version = @f1) AND i.injured_max = @f2)", [1L, 2L, 3L] },
        { "NOT id = 1 AND version = 2", "(NOT (i.id = @f0) AND i.version = @f1)", [1L, 2L] },
        { "nOt id = 1 oR version = 2 AnD id = 3", "(NOT (i.id = @f0) OR (i.version = @f1 AND i.id = @f2))", [1L, 2L, 3L] },
        { "occurred_at >= TIMESTAMP('2016-02-21T07:30:00Z')", "i.occurred_at >= @f0", [Utc(2016, 2, 21, 7, 30)] },
        { "updated_at < TIMESTAMP('2016-02-21T09:30:00+02:00')", "i.updated_at < @f0", [Utc(2016, 2, 21, 7, 30)] },
        { "occurred_at = DATE('2016-02-21')", "i.occurred_at BETWEEN @f0 AND @f1", [Utc(2016, 2, 21), EndOfDay(2016, 2, 21)] },
        { "occurred_at > DATE('2016-02-21')", "i.occurred_at > @f0", [EndOfDay(2016, 2, 21)] },
        { "DATE('2016-02-21') > occurred_at", "i.occurred_at < @f0", [Utc(2016, 2, 21)] },
        { "created_at BETWEEN DATE('2016-02-01') AND DATE('2016-02-29')", "i.created_at BETWEEN @f0 AND @f1",
            [Utc(2016, 2, 1), EndOfDay(2016, 2, 29)] },
        { "S_INTERSECTS(geometry, POINT(36.7 34.7))", "ST_Intersects(i.geom, @f0)", [Factory.CreatePoint(new Coordinate(36.7, 34.7))] },
        { "s_intersects(POLYGON((0 0, 1 0, 1 1, 0 0)), geometry)", "ST_Intersects(@f0, i.geom)",
            [Factory.CreatePolygon([new(0, 0), new(1, 0), new(1, 1), new(0, 0)])] },
        { "S_WITHIN(geometry, BBOX(35, 33, 36.5, 34))", "ST_Within(i.geom, @f0)", [Factory.ToGeometry(new Envelope(35, 36.5, 33, 34))] },
        { "S_DISJOINT(geometry, ENVELOPE(35, 33, 36.5, 34))", "ST_Disjoint(i.geom, @f0)", [Factory.ToGeometry(new Envelope(35, 36.5, 33, 34))] },
        { "S_DWITHIN(geometry, POINT(36.7 34.7), 10, kilometers)", "ST_DWithin(i.geog, @f0::geography, @f1)",
            [Factory.CreatePoint(new Coordinate(36.7, 34.7)), 10_000.0] },
        { "S_DWITHIN(geometry, POINT(36.7 34.7), 2.5, 'm')", "ST_DWithin(i.geog, @f0::geography, @f1)",
            [Factory.CreatePoint(new Coordinate(36.7, 34.7)), 2.5] },
        // Past the farthest two places on Earth (20,004 km) every distance is the same: 20,040 km.
        { "S_DWITHIN(geometry, POINT(36.7 34.7), 1e308, meters)", "ST_DWithin(i.geog, @f0::geography, @f1)",
            [Factory.CreatePoint(new Coordinate(36.7, 34.7)), 20_040_000.0] },
        { "S_DWITHIN(geometry, POINT(36.7 34.7), 1e308, km)", "ST_DWithin(i.geog, @f0::geography, @f1)",
            [Factory.CreatePoint(new Coordinate(36.7, 34.7)), 20_040_000.0] },
        { "T_INTERSECTS(occurred_at, INTERVAL('2016-02-01T00:00:00Z', '2016-02-29'))",
            "((i.occurred_until > @f0 OR i.occurred_at >= @f0) AND i.occurred_at >= @f1 AND i.occurred_at <= @f2)",
            [Utc(2016, 2, 1), Utc(2016, 1, 1), EndOfDay(2016, 2, 29)] },
        { "T_INTERSECTS(occurred_at, TIMESTAMP('2016-02-21T07:30:00Z'))", "i.occurred_at <= @f2",
            [Utc(2016, 2, 21, 7, 30), Utc(2016, 1, 21, 7, 30), Utc(2016, 2, 21, 7, 30)] },
        { "T_INTERSECTS(DATE('2016-02-21'), occurred_at)", "i.occurred_at <= @f2",
            [Utc(2016, 2, 21), Utc(2016, 1, 21), EndOfDay(2016, 2, 21)] },
        { "T_INTERSECTS(occurred_at, INTERVAL('..', '2016-02-29'))", "(i.occurred_at <= @f0)", [EndOfDay(2016, 2, 29)] },
        { "T_INTERSECTS(created_at, INTERVAL('2016-02-01', '..'))", "(i.created_at >= @f0)", [Utc(2016, 2, 1)] },
        { "T_INTERSECTS(occurred_at, INTERVAL('..', '..'))", "i.occurred_at IS NOT NULL", [] },
        { "A_CONTAINS(tags, ('a', 'b'))", "i.tags @> @f0", [new[] { "a", "b" }] },
        { "A_OVERLAPS(actors, ('Islamic State'))", "i.actors && @f0", [new[] { "Islamic State" }] },
        { "A_CONTAINEDBY(tags, ())", "i.tags <@ @f0", [Array.Empty<string>()] },
        { "A_EQUALS(('x'), tags)", "(@f0 @> i.tags AND @f0 <@ i.tags)", [new[] { "x" }] },
    };

    [Theory]
    [MemberData(nameof(ValidFilters))]
    public void Valid_filters_compile_to_parameterised_sql(string filter, string sqlFragment, object[] values)
    {
        var compiled = Cql2Assert.Compiles(filter);

        Assert.Contains(sqlFragment, compiled.Sql);
        Assert.Equal(values, compiled.Parameters.Select(p => p.Value).ToArray());
        Assert.Equal(Enumerable.Range(0, values.Length).Select(n => $"f{n}"), compiled.Parameters.Select(p => p.Name));
        var referenced = Regex.Matches(compiled.Sql, @"@(\w+)").Select(m => m.Groups[1].Value).Distinct().Order();
        Assert.Equal(compiled.Parameters.Select(p => p.Name).Order(), referenced);
    }

    /// <summary>
    /// Text without these characters is folded by lower() alone: every character lower() turns into one
    /// that folds further must be among them, as must what lower() may make a final sigma of.
    /// </summary>
    [Fact]
    public void Case_folding_looks_further_for_every_character_lower_leaves_unfolded()
    {
        var folded = CaseFolding.Foldings.Select(f => f.From).ToHashSet();
        Assert.Equal(97, folded.Count);
        Assert.All(CaseFolding.Foldings, f => Assert.Contains(f.From, CaseFolding.Trigger, StringComparison.Ordinal));
        foreach (var c in new[] { 'ẞ', 'ᾈ', 'ᾏ', 'ᾘ', 'ᾯ', 'ᾼ', 'ῌ', 'ῼ', 'Σ' }) Assert.Contains(c, CaseFolding.Trigger);
        for (var c = char.MinValue; c < char.MaxValue; c++)
        {
            if (!char.IsSurrogate(c) && folded.Contains(char.ToLowerInvariant(c).ToString())) Assert.Contains(c, CaseFolding.Trigger);
        }
        Assert.DoesNotContain(CaseFolding.Trigger, c => c < 128 || c is '\'' or ']' or '[' or '^' or '-' or '\\');
    }

    [Fact]
    public void Timestamps_are_utc_and_geometries_are_wgs84()
    {
        var compiled = Cql2Assert.Compiles("occurred_at > TIMESTAMP('2016-02-21T09:30:00+02:00') AND S_INTERSECTS(geometry, MULTIPOINT((1 2), (3 4)))");

        var time = Assert.IsType<DateTimeOffset>(compiled.Parameters[0].Value);
        Assert.Equal(TimeSpan.Zero, time.Offset);
        var geometry = Assert.IsType<MultiPoint>(compiled.Parameters[1].Value);
        Assert.Equal(4326, geometry.SRID);
        Assert.Equal(2, ((Point)geometry.GetGeometryN(0)).CoordinateSequence.Dimension);
    }

    [Fact]
    public void A_bbox_crossing_the_antimeridian_is_two_boxes()
    {
        var compiled = Cql2Assert.Compiles("S_INTERSECTS(geometry, BBOX(170, -10, -170, 10))");

        var boxes = Assert.IsType<MultiPolygon>(compiled.Parameters[0].Value);
        Assert.Equal(new Envelope(170, 180, -10, 10), boxes.GetGeometryN(0).EnvelopeInternal);
        Assert.Equal(new Envelope(-180, -170, -10, 10), boxes.GetGeometryN(1).EnvelopeInternal);
    }

    [Theory]
    [InlineData("event_type = ", 13, "end of the filter")]
    [InlineData("", 0, "end of the filter")]
    [InlineData("unknown_prop = 1", 0, "'unknown_prop' is not a queryable property")]
    [InlineData("Title = 'x'", 0, "did you mean 'title'")]
    [InlineData("title = 'x' AND nope IS NULL", 16, "'nope'")]
    [InlineData("title = '💣💣💣' AND nope IS NULL", 18, "'nope'")] // characters, not UTF-16 units: each emoji is one
    [InlineData("fatalities_max > 'x'", 17, "a string cannot be compared with fatalities_max (a number)")]
    [InlineData("'x' < fatalities_max", 0, "a string cannot be compared with fatalities_max")]
    [InlineData("title = 5", 8, "a number cannot be compared with title (a string)")]
    [InlineData("occurred_at > 5", 14, "a number cannot be compared with occurred_at (a timestamp)")]
    [InlineData("occurred_at > '2016-02-21'", 14, "a string cannot be compared")]
    [InlineData("title = DATE('2016-02-21')", 8, "a date cannot be compared with title")]
    [InlineData("fatalities_min BETWEEN 1 AND 'x'", 29, "a string")]
    [InlineData("event_type IN ('riots', 3)", 24, "a number cannot be compared with event_type")]
    [InlineData("event_type IN ()", 14, "the IN list is empty")]
    [InlineData("event_type IN 'riots'", 14, "expected '(' after IN")]
    [InlineData("fatalities_max LIKE '1%'", 0, "LIKE takes a string here, not fatalities_max (a number)")]
    [InlineData("title LIKE summary", 11, "the pattern of LIKE must be a string literal")]
    // \' is CQL2's escaped quote, so neither string closes (the second: an escaped backslash, then an escaped quote).
    [InlineData("title LIKE 'abc\\'", 11, "unterminated string")]
    [InlineData("title LIKE 'abc\\\\\\'", 11, "unterminated string")]
    [InlineData("geometry = POINT(1 2)", 0, "cannot be compared with =")]
    [InlineData("tags = 'a'", 0, "tags (an array) cannot be compared")]
    [InlineData("(title = 'x'", 12, "expected ')' to close the '(' at 0")]
    [InlineData("((title = 'x')", 14, "expected ')' to close the '(' at 0")]
    [InlineData("title = 'x')", 11, "unexpected ')'")]
    [InlineData("title = 'abc", 8, "unterminated string")]
    [InlineData("\"title = 'x'", 0, "unterminated property name")]
    [InlineData("title == 'x'", 7, "expected a property or a value, found '='")]
    [InlineData("title != 'x'", 6, "unexpected character '!'")]
    [InlineData("title = 'x' AND", 15, "end of the filter")]
    [InlineData("title = 'x' AND OR title = 'y'", 16, "found 'OR'")]
    [InlineData("title NOT 'x'", 10, "expected LIKE, BETWEEN or IN after NOT")]
    [InlineData("title IS 'x'", 9, "expected NULL")]
    [InlineData("fatalities_min BETWEEN 1 OR 2", 25, "expected AND")]
    [InlineData("title", 0, "expected a condition, found the property title")]
    [InlineData("CASEI(title)", 0, "expected a condition, found CASEI(…)")]
    [InlineData("CASEI(fatalities_max) = 1", 6, "CASEI takes a string here")]
    [InlineData("ACCENTI(fatalities_max) = 1", 8, "ACCENTI takes a string here")]
    [InlineData("T_BEGINS(occurred_at, DATE('2016-01-01'))", 0, "T_BEGINS is not supported")]
    [InlineData("title = 'x' AND pg_sleep(10) = 1", 16, "PG_SLEEP is not supported")]
    [InlineData("S_INTERSECTS(geometry)", 0, "S_INTERSECTS takes 2 arguments, not 1")]
    [InlineData("S_INTERSECTS(title, POINT(1 2))", 13, "S_INTERSECTS takes a geometry here, not title (a string)")]
    [InlineData("S_INTERSECTS(geometry, POINT(200 10))", 23, "is not a WGS 84 longitude and latitude")]
    [InlineData("S_INTERSECTS(geometry, POLYGON((0 0, 1 1, 1 0, 0 1, 0 0)))", 23, "the geometry is not valid")]
    [InlineData("S_INTERSECTS(geometry, POLYGON((0 0, 1 0, 1 1)))", 31, "not a valid WKT geometry: a polygon ring has 3 positions")]
    [InlineData("S_INTERSECTS(geometry, POINT(1 2)", 33, "expected ',' or ')'")]
    [InlineData("S_INTERSECTS(geometry, POINT 'x')", 29, "expected '(' after POINT")]
    [InlineData("S_INTERSECTS(geometry, BBOX(1, 2, 3))", 23, "the bbox: has 3 numbers")]
    [InlineData("S_INTERSECTS(geometry, BBOX(0, 10, 1, 5))", 23, "the bbox: minLat 10 is greater than maxLat 5")]
    [InlineData("S_DWITHIN(geometry, POINT(1 2), 10, miles)", 36, "the unit of S_DWITHIN")]
    [InlineData("S_DWITHIN(geometry, POINT(1 2), -1, meters)", 32, "at least 0")]
    [InlineData("T_INTERSECTS(occurred_at, '2016-01-01')", 26, "needs a TIMESTAMP, DATE or INTERVAL")]
    [InlineData("T_INTERSECTS(title, DATE('2016-01-01'))", 13, "needs a timestamp property")]
    [InlineData("T_INTERSECTS(occurred_at, INTERVAL('2016-02-01', '2016-01-01'))", 26, "starts after it ends")]
    [InlineData("T_INTERSECTS(occurred_at, INTERVAL('2016-02-01', 'soon'))", 49, "'soon' is not an RFC 3339 timestamp")]
    [InlineData("occurred_at > TIMESTAMP('2016-02-30T00:00:00Z')", 24, "is not an RFC 3339 timestamp")]
    [InlineData("occurred_at > TIMESTAMP('2016-12-31T23:59:60Z')", 24, "'2016-12-31T23:59:60Z' is a leap second (second 60), which PostgreSQL cannot store; write 2016-12-31T23:59:59Z")]
    [InlineData("occurred_at > DATE('21/02/2016')", 19, "is not a date")]
    [InlineData("occurred_at = INTERVAL('2016-01-01', '..')", 14, "an interval is only allowed in the temporal functions")]
    [InlineData("occurred_at IN (DATE('2016-01-01'))", 16, "use BETWEEN for a whole day")]
    [InlineData("A_CONTAINS(tags, ('a', 1))", 23, "A_CONTAINS lists hold strings, not a number")]
    [InlineData("A_CONTAINS(title, ('a'))", 11, "A_CONTAINS takes an array here")]
    [InlineData("id = 1e309", 5, "1e309 is too large: a number in a filter is less than 1e309 in magnitude")]
    [InlineData("id = -12e308", 5, "too large")]
    [InlineData("id = 1e999", 5, "too large")]
    [InlineData("id = 1e-1001", 5, "1e-1001 has more than 1000 decimal places")]
    [InlineData("id < 1e99999999999999999999", 5, "too large")]
    [InlineData("S_INTERSECTS(geometry, BBOX(0, 0, 1e309, 1))", 34, "too large")]
    public void Invalid_filters_report_the_position_of_the_problem(string filter, int position, string message)
    {
        Cql2Assert.Fails(filter, position, message);
    }

    /// <summary>
    /// An edge over 180° of longitude is the long way round to the planar tests (S_INTERSECTS) and the
    /// short way to the geodesic ones (S_DWITHIN): a filter refuses it as writes and a search's intersects do.
    /// </summary>
    [Theory]
    [InlineData("S_INTERSECTS(geometry, POLYGON((170 -10, -170 -10, -170 10, 170 10, 170 -10)))", 23)]
    [InlineData("S_DWITHIN(geometry, POLYGON((170 -10, -170 -10, -170 10, 170 10, 170 -10)), 0, meters)", 20)]
    [InlineData("S_INTERSECTS(geometry, LINESTRING(170 0, -170 0))", 23)]
    [InlineData("S_INTERSECTS(geometry, LINESTRING(0 10, 180 10))", 23)]
    [InlineData("S_DWITHIN(geometry, LINESTRING(0 0, 180 0), 10, meters)", 20)]
    [InlineData("S_DWITHIN(geometry, LINESTRING(10 45, -170 -45), 10, meters)", 20)]
    [InlineData("S_DWITHIN(geometry, POLYGON((0 -10, 180 -10, 180 10, 0 10, 0 -10)), 0, meters)", 20)]
    [InlineData("S_INTERSECTS(geometry, POLYGON Z((170 -10 0, -170 -10 0, -170 10 0, 170 10 0, 170 -10 0)))", 23)]
    [InlineData("S_INTERSECTS(geometry, POLYGON((-180 -80, 180 -80, 180 80, -180 80, -180 -80)))", 23)]
    [InlineData("S_INTERSECTS(geometry, MULTIPOLYGON(((0 20, 1 20, 1 21, 0 20)), ((170 -10, -170 -10, -170 10, 170 10, 170 -10))))", 23)]
    [InlineData("S_INTERSECTS(geometry, MULTILINESTRING((0 0, 1 1), (-179 5, 179 5)))", 23)]
    [InlineData("S_INTERSECTS(geometry, GEOMETRYCOLLECTION(POINT(0 0), LINESTRING(170 0, -170 0)))", 23)]
    [InlineData("id = 1 OR S_WITHIN(POLYGON((-10 -10, 10 -10, 10 10, -10 10, -10 -10), (-9 -9, 9 -9, 9 9, -9 9, -9 -9)), geometry) AND S_INTERSECTS(geometry, LINESTRING(-100 0, 100 0))", 141)]
    public void A_geometry_with_an_edge_over_half_the_world_is_refused(string filter, int position)
    {
        Cql2Assert.Fails(filter, position, "has an edge spanning 180° or more of longitude; cut the shape at the antimeridian");
    }

    /// <summary>A geometry without its coordinates was read as empty and matched nothing; a NUL in a string reached PostgreSQL.</summary>
    [Theory]
    [InlineData("""{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Point"}]}""", "$.args[1].coordinates: is missing; a Point has its positions")]
    [InlineData("""{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Polygon","coordinate":[]}]}""", "$.args[1].coordinates: is missing; a Polygon has its positions")]
    [InlineData("""{"op":"s_intersects","args":[{"property":"geometry"},{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[1,2]},{"type":"Point"}]}]}""", "$.args[1].geometries[1].coordinates: is missing; a Point has its positions")]
    [InlineData("""{"op":"=","args":[{"property":"title"},"a\u0000b"]}""", "$.args[1]: the string contains a NUL character")]
    [InlineData("""{"op":"=","args":[{"property":"title"},"a\ud800b"]}""", "$.args[1]: the string contains a NUL character or invalid Unicode")]
    [InlineData("""{"op":"t_before","args":[{"property":"occurred_at"},{"interval":["\ud800",{"property":"updated_at"}]}]}""", "$.args[1].interval[0]: the string contains invalid Unicode")]
    [InlineData("""{"op":"t_intersects","args":[{"property":"occurred_at"},{"timestamp":"\ud800"}]}""", "$.args[1].timestamp: the string contains invalid Unicode")]
    // A member more was ignored, so the filter could mean other than its writer thought (OGC hunter).
    [InlineData("""{"op":"=","args":[{"property":"title"},"a"],"extra":1}""", "$.extra: is not a member of an operation")]
    [InlineData("""{"op":"=","args":[{"property":"title","as":"x"},"a"]}""", "$.args[0].as: is not a member of a property object")]
    [InlineData("""{"op":"t_after","args":[{"property":"occurred_at"},{"date":"2016-02-21","time":"12:00"}]}""", "$.args[1].time: is not a member of a date object")]
    [InlineData("""{"op":"like","args":[{"property":"title"},"\u0000%"]}""", "$.args[1]: the string contains a NUL character")]
    [InlineData("""{"op":"a_contains","args":[{"property":"tags"},["x","\u0000"]]}""", "$.args[1][1]: the string contains a NUL character")]
    public void A_cql2_json_literal_the_database_could_not_take_is_refused_at_its_path(string json, string message)
    {
        var error = Cql2Assert.Fails(json, -1, "", Cql2.JsonLanguage);
        Assert.StartsWith(message, error.Message);
    }

    [Theory]
    [InlineData("""{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Polygon","coordinates":[[[170,-10],[-170,-10],[-170,10],[170,10],[170,-10]]]}]}""", "$.args[1]: ")]
    [InlineData("""{"op":"s_dwithin","args":[{"type":"LineString","coordinates":[[170,0],[-170,0]]},{"property":"geometry"},0,"m"]}""", "$.args[0]: ")]
    [InlineData("""{"op":"s_intersects","args":[{"property":"geometry"},{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[0,0]},{"type":"MultiLineString","coordinates":[[[-179,5],[179,5]]]}]}]}""", "$.args[1]: ")]
    public void A_cql2_json_geometry_with_an_edge_over_half_the_world_is_refused(string json, string path)
    {
        var error = Cql2Assert.Fails(json, -1, "has an edge spanning 180° or more of longitude; cut the shape at the antimeridian", Cql2.JsonLanguage);
        Assert.StartsWith(path, error.Message);
    }

    /// <summary>
    /// An edge from pole to pole lies on every great circle through them: S_DWITHIN's geography refused it in
    /// PostgreSQL (a 500), so every spatial operator refuses it, as writes do. (Other antipodal ends are 180° of
    /// longitude apart, which the rule above refuses.)
    /// </summary>
    [Theory]
    [InlineData("S_DWITHIN(geometry, LINESTRING(5 -90, 7 90), 10, meters)", 20)]
    [InlineData("S_INTERSECTS(geometry, LINESTRING(0 -90, 0 90))", 23)]
    [InlineData("S_INTERSECTS(geometry, POLYGON((-179 -90, 0 -90, 179 -90, 179 90, 0 90, -179 90, -179 -90)))", 23)]
    public void A_geometry_with_an_edge_from_pole_to_pole_is_refused(string filter, int position)
    {
        Cql2Assert.Fails(filter, position, "has an edge from one pole to the other");
    }

    /// <summary>The same shapes cut at the antimeridian, and boxes across it, which say which side they mean.</summary>
    [Theory]
    [InlineData("S_INTERSECTS(geometry, MULTIPOLYGON(((170 -10, 180 -10, 180 10, 170 10, 170 -10)), ((-180 -10, -170 -10, -170 10, -180 10, -180 -10))))")]
    [InlineData("S_INTERSECTS(geometry, LINESTRING(-90 0, 0 0, 90 0, 180 0))")]
    [InlineData("S_INTERSECTS(geometry, LINESTRING(0 0, 90 0, 180 0))")]
    [InlineData("S_INTERSECTS(geometry, BBOX(170, -10, -170, 10))")]
    [InlineData("S_INTERSECTS(geometry, BBOX(-180, -90, 180, 90))")]
    [InlineData("S_INTERSECTS(geometry, MULTIPOINT((170 0), (-170 0)))")]
    [InlineData("S_INTERSECTS(geometry, POLYGON EMPTY)")]
    public void A_geometry_that_keeps_each_edge_within_half_the_world_is_accepted(string filter)
    {
        Cql2Assert.Compiles(filter);
    }

    [Fact]
    public void Sixty_four_levels_of_nesting_compile_and_sixty_five_do_not()
    {
        Cql2Assert.Compiles(new string('(', 64) + "id = 1" + new string(')', 64));
        Cql2Assert.Compiles(string.Concat(Enumerable.Repeat("NOT ", 64)) + "id = 1");

        Cql2Assert.Fails(new string('(', 65) + "id = 1" + new string(')', 65), 64, "the filter is nested more than 64 levels deep");
        Cql2Assert.Fails(string.Concat(Enumerable.Repeat("NOT ", 65)) + "id = 1", 256, "the filter is nested more than 64 levels deep");
    }

    [Theory]
    [InlineData("(", 10_000, 64)]
    [InlineData("NOT ", 5_000, 256)]
    [InlineData("CASEI(", 3_000, 64 * 6 + 5)]
    [InlineData("A_CONTAINS(tags, ", 1_000, 64 * 17 + 10)]
    public void Absurdly_deep_filters_are_refused_at_the_sixty_fifth_level(string opening, int times, int position)
    {
        Cql2Assert.Fails(string.Concat(Enumerable.Repeat(opening, times)), position, "the filter is nested more than 64 levels deep");
    }

    [Fact]
    public void A_geometry_nested_too_deep_is_refused()
    {
        const string prefix = "S_INTERSECTS(geometry, ", collection = "GEOMETRYCOLLECTION(";
        var filter = prefix + string.Concat(Enumerable.Repeat(collection, 70)) + "POINT(1 2)" + new string(')', 71);

        // At the 65th opening parenthesis.
        Cql2Assert.Fails(filter, prefix.Length + 65 * collection.Length - 1, "the geometry is nested more than 64 levels deep");
    }

    [Fact]
    public void More_than_a_thousand_terms_are_refused()
    {
        Cql2Assert.Compiles(string.Join(" OR ", Enumerable.Range(0, 333).Select(n => $"id = {n}")));

        // Three terms a condition (property, literal, comparison) and one for the OR: the 1001st is the last literal.
        var conditions = string.Join(" OR ", Enumerable.Range(0, 334).Select(n => $"id = {n}"));
        Cql2Assert.Fails(conditions, conditions.Length - "333".Length, "the filter has more than 1000 terms");
        var list = "id IN (" + string.Join(",", Enumerable.Range(0, 1000)) + ")";
        Cql2Assert.Fails(list, list.LastIndexOf(',') + 1, "the filter has more than 1000 terms");
    }

    [Fact]
    public void A_filter_over_twenty_thousand_characters_is_refused_at_the_limit()
    {
        Cql2Assert.Compiles("title = '" + new string('x', 19_990) + "'");

        Cql2Assert.Fails("title = '" + new string('x', 20_000) + "'", 20_000, "the filter is longer than 20000 characters");
    }

    /// <summary>Characters, as positions are counted: 10,010 emoji (20,020 UTF-16 units) were refused at "position 10005".</summary>
    [Fact]
    public void The_twenty_thousand_characters_are_characters_not_utf16_units()
    {
        Cql2Assert.Compiles("title = '" + string.Concat(Enumerable.Repeat("😀", 19_990)) + "'");

        Cql2Assert.Fails("title = '" + string.Concat(Enumerable.Repeat("😀", 20_000)) + "'", 20_000, "the filter is longer than 20000 characters");
    }

    /// <summary>An emoji was shown as '\uFFFD' (its first UTF-16 unit alone); no JSON at all in .NET's reader's words.</summary>
    [Fact]
    public void An_unexpected_emoji_is_shown_whole_and_an_empty_json_filter_is_said_to_be_empty()
    {
        Cql2Assert.Fails("title = 'x' AND 😀 = 1", 16, "unexpected character '😀'");
        var empty = Cql2Assert.Fails("  ", -1, "is empty: give a CQL2 JSON expression", Cql2.JsonLanguage);
        Assert.DoesNotContain("isFinalBlock", empty.Message);
    }

    [Fact]
    public void An_unknown_filter_language_is_refused_without_a_position()
    {
        Cql2Assert.Fails("id = 1", -1, "filter-lang 'sql' is not supported", lang: "sql");
    }

    public static TheoryData<string, string> SameFilterInBothEncodings => new()
    {
        { "event_type = 'battles' AND fatalities_max >= 10",
            """{"op":"and","args":[{"op":"=","args":[{"property":"event_type"},"battles"]},{"op":">=","args":[{"property":"fatalities_max"},10]}]}""" },
        { "NOT (title LIKE '%Homs%' OR summary IS NULL)",
            """{"op":"not","args":[{"op":"or","args":[{"op":"like","args":[{"property":"title"},"%Homs%"]},{"op":"isNull","args":[{"property":"summary"}]}]}]}""" },
        { "fatalities_min BETWEEN 1 AND 2.5", """{"op":"between","args":[{"property":"fatalities_min"},1,2.5]}""" },
        { "status IN ('verified', 'disputed')", """{"op":"in","args":[{"property":"status"},["verified","disputed"]]}""" },
        { "occurred_at >= TIMESTAMP('2016-02-21T07:30:00Z')", """{"op":">=","args":[{"property":"occurred_at"},{"timestamp":"2016-02-21T07:30:00Z"}]}""" },
        { "occurred_at = DATE('2016-02-21')", """{"op":"=","args":[{"property":"occurred_at"},{"date":"2016-02-21"}]}""" },
        { "T_INTERSECTS(occurred_at, INTERVAL('2016-01-01', '..'))",
            """{"op":"t_intersects","args":[{"property":"occurred_at"},{"interval":["2016-01-01",".."]}]}""" },
        { "S_INTERSECTS(geometry, POLYGON((36.5 34.5, 37 34.5, 37 35, 36.5 34.5)))",
            """{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Polygon","coordinates":[[[36.5,34.5],[37,34.5],[37,35],[36.5,34.5]]]}]}""" },
        { "S_INTERSECTS(geometry, BBOX(35, 33, 36.5, 34))", """{"op":"s_intersects","args":[{"property":"geometry"},{"bbox":[35,33,36.5,34]}]}""" },
        { "S_DWITHIN(geometry, POINT(36.7 34.7), 10, kilometers)",
            """{"op":"s_dwithin","args":[{"property":"geometry"},{"type":"Point","coordinates":[36.7,34.7]},10,"kilometers"]}""" },
        { "A_OVERLAPS(tags, ('a', 'b'))", """{"op":"a_overlaps","args":[{"property":"tags"},["a","b"]]}""" },
        { "CASEI(title) = CASEI('x')", """{"op":"=","args":[{"op":"casei","args":[{"property":"title"}]},{"op":"casei","args":["x"]}]}""" },
        { "TRUE", "true" },
        // CQL2 text's escapes (/req/cql2-text/escaping): \' and '' a quote, \a \b \t \n \v \f \r control characters,
        // and outside LIKE \\ a backslash; any other pair is kept as written.
        { @"title = 'back\\slash'", """{"op":"=","args":[{"property":"title"},"back\\slash"]}""" },
        { @"title = 'it\'s'", """{"op":"=","args":[{"property":"title"},"it's"]}""" },
        { @"title = 'a\tb'", """{"op":"=","args":[{"property":"title"},"a\tb"]}""" },
        { @"title = '\a\b\t\n\v\f\r'", """{"op":"=","args":[{"property":"title"},"\u0007\b\t\n\u000b\f\r"]}""" },
        { @"title = '100\% \q'", """{"op":"=","args":[{"property":"title"},"100\\% \\q"]}""" },
        { @"title IN ('C:\\', 'D:\\')", """{"op":"in","args":[{"property":"title"},["C:\\","D:\\"]]}""" },
        // A LIKE pattern keeps LIKE's own escapes (\%, \_, \\) as written: the pattern CQL2 JSON gives.
        { @"title LIKE 'a\%b\_c'", """{"op":"like","args":[{"property":"title"},"a\\%b\\_c"]}""" },
        { @"title LIKE 'C:\\%'", """{"op":"like","args":[{"property":"title"},"C:\\\\%"]}""" },
        { @"title LIKE 'tab\t%'", """{"op":"like","args":[{"property":"title"},"tab\t%"]}""" },
        { @"CASEI(title) LIKE ACCENTI(CASEI('C:\\%'))",
            """{"op":"like","args":[{"op":"casei","args":[{"property":"title"}]},{"op":"accenti","args":[{"op":"casei","args":["C:\\\\%"]}]}]}""" },
        { @"'C:\\x' LIKE 'C:\\%'", """{"op":"like","args":["C:\\x","C:\\\\%"]}""" },
    };

    [Theory]
    [MemberData(nameof(SameFilterInBothEncodings))]
    public void Cql2_json_compiles_to_the_same_sql_as_cql2_text(string text, string json)
    {
        var fromText = Cql2Assert.Compiles(text);

        var fromJson = Cql2Assert.Compiles(json, Cql2.JsonLanguage);

        Assert.Equal(fromText.Sql, fromJson.Sql);
        Assert.Equal(fromText.Parameters.Select(p => p.Value).ToArray(), fromJson.Parameters.Select(p => p.Value).ToArray());
    }

    [Theory]
    [InlineData("""{"op":"=","args":[{"property":"nope"},1]}""", "$.args[0]: 'nope' is not a queryable property")]
    [InlineData("""{"op":"=","args":[{"property":"fatalities_max"},"x"]}""", "$.args[1]: a string cannot be compared with fatalities_max")]
    [InlineData("""{"op":"and","args":[{"op":"=","args":[{"property":"id"},1]}]}""", "$: AND takes at least 2 arguments")]
    [InlineData("""{"op":"like","args":[{"property":"title"}]}""", "$: LIKE takes 2 arguments, not 1")]
    [InlineData("""{"op":"t_begins","args":[{"property":"occurred_at"},{"date":"2016-01-01"}]}""", "$: T_BEGINS is not supported")]
    [InlineData("""{"op":"=","args":[{"property":"occurred_at"},{"timestamp":"yesterday"}]}""", "$.args[1]: 'yesterday' is not an RFC 3339 timestamp")]
    [InlineData("""{"op":"t_intersects","args":[{"property":"occurred_at"},{"interval":["2016-01-01","later"]}]}""", "$.args[1].interval[1]: 'later'")]
    [InlineData("""{"op":"t_intersects","args":[{"property":"occurred_at"},{"interval":["2016-01-01"]}]}""", "$.args[1]: an interval has two ends")]
    [InlineData("""{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Circle","coordinates":[1,2]}]}""", "$.args[1]: 'Circle' is not a GeoJSON geometry type")]
    [InlineData("""{"op":"s_intersects","args":[{"property":"geometry"},{"bbox":[1,"2",3,4]}]}""", "$.args[1].bbox[1]: must be a number")]
    [InlineData("""{"op":"=","args":[{"property":7},1]}""", "$.args[0].property: must be a string")]
    [InlineData("""{"op":"=","args":[null,1]}""", "$.args[0]: null is not a CQL2 expression")]
    [InlineData("""{"op":"=","args":[{"property":"id"},1e400]}""", "$.args[1]: 1e400 is too large: a number in a filter is less than 1e309 in magnitude")]
    [InlineData("""{"op":"in","args":[{"property":"id"},[1,-2.5E-1001]]}""", "$.args[1][1]: -2.5E-1001 has more than 1000 decimal places")]
    [InlineData("""{"op":"="}""", "$.args: an operation needs an args array")]
    [InlineData("""{"filter":"id = 1"}""", "$: expected an object with op, property")]
    [InlineData("""{"op":"=","args":[{"property":"id"},1]""", "$: not valid JSON")]
    [InlineData("id = 1", "$: not valid JSON")]
    public void Invalid_cql2_json_is_reported_with_a_json_path(string json, string message)
    {
        Assert.StartsWith(message, Cql2Assert.Fails(json, -1, message, Cql2.JsonLanguage).Message);
    }

    /// <summary>
    /// JSON that cannot be read, or an object with a member twice, is said without the reader's own vocabulary: a
    /// duplicate member was "the filter cannot be read: An item with the same key has already been added. Key: type
    /// (Parameter 'key')", and a syntax error ended "LineNumber: 0 | BytePositionInLine: 0." (audit).
    /// </summary>
    [Theory]
    [InlineData("""{"op":"=","op":"<","args":[{"property":"id"},1]}""", "$: not valid JSON: the member 'op' is given twice")]
    [InlineData("""{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Point","type":"Point","coordinates":[1,2]}]}""", "$: not valid JSON: the member 'type' is given twice")]
    [InlineData("id = 1", "$: not valid JSON: 'i' is an invalid start of a value (line 1, byte 1)")]
    [InlineData("{\"op\":\n \"=\", }", "$: not valid JSON: The JSON object contains a trailing comma at the end (line 2, byte 7)")]
    public void Unreadable_cql2_json_is_said_in_plain_words(string json, string message)
    {
        var error = Cql2Assert.Fails(json, -1, message, Cql2.JsonLanguage).Message;
        Assert.Equal(message, error);
        Assert.DoesNotContain("LineNumber", error);
        Assert.DoesNotContain("Parameter", error);
    }

    /// <summary>
    /// A geometry the reader refuses is described from a copy of its JSON, which a JSON writer's default depth
    /// limit could refuse in turn ("CurrentDepth (64) is equal to or larger than the maximum allowed depth"); the
    /// filter reader allows four times as deep (review).
    /// </summary>
    [Theory]
    [InlineData(40)]
    [InlineData(120)]
    public void A_broken_geometry_nested_deep_in_collections_is_still_said_in_plain_words(int depth)
    {
        var geometry = """{"type":"Point","coordinates":[1]}""";
        for (var i = 0; i < depth; i++) geometry = $$"""{"type":"GeometryCollection","geometries":[{{geometry}}]}""";
        var (compiled, error) = Cql2.Compile($$"""{"op":"s_intersects","args":[{"property":"geometry"},{{geometry}}]}""", Cql2.JsonLanguage);

        Assert.Null(compiled);
        Assert.StartsWith("$.args[1]", error!.Message);
        Assert.DoesNotContain("Depth", error.Message);
        Assert.DoesNotContain("cannot be read", error.Message);
    }

    /// <summary>
    /// A GeoJSON geometry the reader cannot read is said in plain words at the path of what is wrong. The reader's
    /// own message was passed on: "could not be converted to NetTopologySuite.Geometries.Geometry. Path: $ | LineNumber: 0 …".
    /// </summary>
    [Theory]
    [InlineData("""{"type":"Point","coordinates":[1]}""", "$.args[1].coordinates: has 1 number; a position is 2 or more numbers: longitude, latitude, then any others (a height, a measure), which are not stored")]
    [InlineData("""{"type":"Point","coordinates":[true,2]}""", "$.args[1].coordinates[0]: is true, not a number")]
    [InlineData("""{"type":"Point","coordinates":["36.7",34.7]}""", "$.args[1].coordinates[0]: is a string, not a number")]
    [InlineData("""{"type":"Point","coordinates":{}}""", "$.args[1].coordinates: is an object, not a position")]
    [InlineData("""{"type":"LineString","coordinates":[[36,34]]}""", "$.args[1].coordinates: has 1 position; a line needs at least 2")]
    [InlineData("""{"type":"LineString","coordinates":[[36,34],[1]]}""", "$.args[1].coordinates[1]: has 1 number; a position is 2 or more numbers")]
    [InlineData("""{"type":"LineString","coordinates":[36,34]}""", "$.args[1].coordinates[0]: is a number, not a position")]
    [InlineData("""{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1]]]}""", "$.args[1].coordinates[0]: has 3 positions; a polygon ring needs at least 4, the last the same as the first")]
    [InlineData("""{"type":"Polygon","coordinates":[[[0,0],[0,0]]]}""", "$.args[1].coordinates[0]: has 2 positions; a polygon ring needs at least 4")]
    [InlineData("""{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}""", "$.args[1].coordinates[0]: does not end where it starts")]
    [InlineData("""{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]],[]]}""", "$.args[1].coordinates[1]: has no positions; a polygon ring needs at least 4")]
    [InlineData("""{"type":"Polygon","coordinates":[[0,0],[1,0],[1,1],[0,0]]}""", "$.args[1].coordinates[0][0]: is a number, not a position")]
    [InlineData("""{"type":"MultiPoint","coordinates":[[]]}""", "$.args[1].coordinates[0]: has no numbers; a position is 2 or more numbers")]
    [InlineData("""{"type":"MultiLineString","coordinates":[[]]}""", "$.args[1].coordinates[0]: has no positions; a line needs at least 2")]
    [InlineData("""{"type":"MultiPolygon","coordinates":[[]]}""", "$.args[1].coordinates[0]: has no rings; a polygon needs at least its outer ring")]
    [InlineData("""{"type":"GeometryCollection"}""", "$.args[1].geometries: is missing; a GeometryCollection has its parts in a geometries array")]
    [InlineData("""{"type":"GeometryCollection","geometries":[1]}""", "$.args[1].geometries[0]: is a number, not a GeoJSON geometry object")]
    [InlineData("""{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[0,0]},{"type":"Point","coordinates":[1]}]}""", "$.args[1].geometries[1].coordinates: has 1 number")]
    [InlineData("""{"type":"GeometryCollection","geometries":[{"type":"Feature"}]}""", "$.args[1].geometries[0].type: 'Feature' is not a GeoJSON geometry type")]
    public void A_cql2_json_geometry_that_cannot_be_read_is_refused_in_plain_words_at_its_path(string geometry, string message)
    {
        var json = $$"""{"op":"s_intersects","args":[{"property":"geometry"},{{geometry}}]}""";

        var error = Cql2Assert.Fails(json, -1, message, Cql2.JsonLanguage);

        Assert.StartsWith(message, error.Message);
        Assert.DoesNotContain("NetTopologySuite", error.Message);
        Assert.DoesNotContain("LineNumber", error.Message);
    }

    /// <summary>
    /// The same in CQL2 text, at the position of what is wrong. The WKT reader's messages named its classes
    /// ("Expected number but found CharToken: )") or nothing ("the filter cannot be read: Error in the application.").
    /// </summary>
    [Theory]
    [InlineData("S_INTERSECTS(geometry, POINT(1))", 29, "not a valid WKT geometry: a position is 2 numbers (longitude latitude), or 3 with a height; found 1 number")]
    [InlineData("S_INTERSECTS(geometry, POINT())", 29, "not a valid WKT geometry: expected a number, found ')'")]
    [InlineData("S_INTERSECTS(geometry, POINT(1 2 3 4))", 29, "not a valid WKT geometry: a position is 2 numbers (longitude latitude), or 3 with a height; found 4 numbers")]
    [InlineData("S_INTERSECTS(geometry, POINT(1 2, 3 4))", 32, "not a valid WKT geometry: expected ')', found ','")]
    [InlineData("S_INTERSECTS(geometry, POINT Z(1 2))", 31, "not a valid WKT geometry: a position of a geometry with Z is 3 numbers; found 2 numbers")]
    [InlineData("S_INTERSECTS(geometry, MULTIPOINT Z((1 2 3), (1 2)))", 46, "not a valid WKT geometry: a position of a geometry with Z is 3 numbers; found 2 numbers")]
    [InlineData("S_INTERSECTS(geometry, LINESTRING(1 2))", 33, "not a valid WKT geometry: a line has 1 position; it needs at least 2")]
    [InlineData("S_INTERSECTS(geometry, LINESTRING((1 2, 3 4)))", 34, "not a valid WKT geometry: expected a number, found '('")]
    [InlineData("S_INTERSECTS(geometry, POLYGON((0 0, 0 0)))", 31, "not a valid WKT geometry: a polygon ring has 2 positions; it needs at least 4")]
    [InlineData("S_INTERSECTS(geometry, POLYGON((0 0, 1 0, 1 1, 0 1)))", 31, "not a valid WKT geometry: a polygon ring does not end where it starts")]
    [InlineData("S_INTERSECTS(geometry, POLYGON(0 0, 1 0, 1 1, 0 0))", 31, "not a valid WKT geometry: expected '(' to start a polygon ring, found '0'")]
    [InlineData("S_INTERSECTS(geometry, POLYGON((0 0, 1 0, 0 0)))", 23, "a polygon ring has 3 positions; a closed ring needs at least 4")]
    [InlineData("S_INTERSECTS(geometry, GEOMETRYCOLLECTION(1 2))", 42, "not a valid WKT geometry: expected a geometry type (POINT, LINESTRING")]
    [InlineData("S_INTERSECTS(geometry, POINT(0x10 2))", 29, "not a valid WKT geometry: expected a number, found '0x10'")]
    public void A_wkt_geometry_that_cannot_be_read_is_refused_in_plain_words_at_its_position(string filter, int position, string message)
    {
        var error = Cql2Assert.Fails(filter, position, message);

        Assert.StartsWith(message, error.Message);
        Assert.DoesNotContain("Token", error.Message);
        Assert.DoesNotContain("application", error.Message);
    }

    [Fact]
    public void Deeply_nested_cql2_json_is_refused_without_exhausting_the_stack()
    {
        var json = string.Concat(Enumerable.Repeat("""{"op":"not","args":[""", 100))
                   + """{"op":"isNull","args":[{"property":"title"}]}""" + string.Concat(Enumerable.Repeat("]}", 100));

        Cql2Assert.Fails(json, -1, "nested more than 64 levels deep", Cql2.JsonLanguage);
    }

    [Fact]
    public void Queryables_document_is_a_closed_json_schema_of_every_queryable()
    {
        var document = Queryables.Document("http://example.test/collections/incidents/queryables");

        Assert.Equal("https://json-schema.org/draft/2020-12/schema", (string?)document["$schema"]);
        Assert.Equal("http://example.test/collections/incidents/queryables", (string?)document["$id"]);
        Assert.Equal("object", (string?)document["type"]);
        Assert.Equal("Incidents", (string?)document["title"]);
        Assert.False((bool)document["additionalProperties"]!);

        var properties = document["properties"]!.AsObject();
        string[] expected =
        [
            "title", "summary", "event_type", "sub_event_type", "location_name", "admin1", "admin2", "admin3", "country", "geo_precision",
            "status", "time_precision", "claimed_by", "external_id", "fatalities_min", "fatalities_max", "injured_min",
            "injured_max", "version", "occurred_at", "created_at", "updated_at", "actors", "tags", "id", "geometry",
            "place_id", "derived_fields",
        ];
        Assert.Equal(expected.Order(), properties.Select(p => p.Key).Order());
        foreach (var (name, schema) in properties)
        {
            Assert.False(string.IsNullOrWhiteSpace((string?)schema!["description"]), name);
            Assert.True(schema["type"] is not null || schema["format"] is not null, name);
        }

        Assert.Equal("geometry-any", (string?)properties["geometry"]!["format"]);
        Assert.Equal("https://geojson.org/schema/Geometry.json", (string?)properties["geometry"]!["$ref"]);
        Assert.Equal("date-time", (string?)properties["occurred_at"]!["format"]);
        Assert.Equal("integer", (string?)properties["fatalities_max"]!["type"]);
        Assert.Equal("string", (string?)properties["tags"]!["items"]!["type"]);
        Assert.Equal(
            ["battles", "explosions_remote_violence", "violence_against_civilians", "protests", "riots", "strategic_developments"],
            properties["event_type"]!["enum"]!.AsArray().Select(v => (string)v!));
        Assert.Equal(["reported", "verified", "disputed", "retracted"], properties["status"]!["enum"]!.AsArray().Select(v => (string)v!));
        Assert.Equal(["exact", "near", "town", "region", "country"], properties["geo_precision"]!["enum"]!.AsArray().Select(v => (string)v!));
        Assert.Equal(["exact", "day", "week", "month"], properties["time_precision"]!["enum"]!.AsArray().Select(v => (string)v!));
    }
}
