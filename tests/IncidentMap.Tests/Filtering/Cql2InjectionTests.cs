using System.Text.RegularExpressions;
using IncidentMap.Api.Filtering;

namespace IncidentMap.Tests.Filtering;

/// <summary>
/// Client text reaches SQL only as parameter values. The compiled SQL is made of column expressions,
/// operators, parameter names and the few strings the compiler writes itself, so it never holds another
/// quote, a semicolon or a comment.
/// </summary>
public sealed class Cql2InjectionTests
{
    [Theory]
    [InlineData("title = 'x'' OR 1=1 --'", "x' OR 1=1 --")]
    [InlineData("title = 'x''); DROP TABLE incidents; --'", "x'); DROP TABLE incidents; --")]
    [InlineData("title LIKE '%'' OR ''''=''%'", "%' OR ''='%")]
    [InlineData("CASEI(title) = CASEI('x''||pg_sleep(10)||''')", "x'||pg_sleep(10)||'")]
    [InlineData("ACCENTI(CASEI(title)) = CASEI(ACCENTI('x''||pg_sleep(10)||'''))", "x'||pg_sleep(10)||'")]
    [InlineData("event_type IN ('riots', 'x'' UNION SELECT password FROM users --')", "x' UNION SELECT password FROM users --")]
    [InlineData("A_CONTAINS(tags, ('a'']::text[] OR true --'))", "a']::text[] OR true --")]
    [InlineData("title = '$$; DROP TABLE incidents; $$'", "$$; DROP TABLE incidents; $$")]
    [InlineData("title = 'x\\' OR 1=1 --'", "x' OR 1=1 --")]
    [InlineData("title = 'x\\\\'' OR 1=1 --'", "x\\' OR 1=1 --")]
    public void Quoted_values_become_parameters_and_never_sql(string filter, string value)
    {
        var compiled = Cql2Assert.Compiles(filter);

        Assert.Contains(value, compiled.Parameters.SelectMany(p => p.Value as string[] ?? [(string)p.Value!]));
        AssertOnlySqlStructure(compiled.Sql);
    }

    [Theory]
    [InlineData("title = 'a'; DROP TABLE incidents; --'", 11, "unexpected character ';'")]
    [InlineData("title = 'a' -- comment", 12, "unexpected character '-'")]
    [InlineData("title = 'a' /* comment */", 12, "unexpected character '/'")]
    [InlineData("id = 1; DELETE FROM incidents", 6, "unexpected character ';'")]
    [InlineData("id = 1 UNION SELECT 1", 7, "unexpected 'UNION'")]
    [InlineData("\"title; DROP TABLE incidents\" = 'x'", 0, "'title; DROP TABLE incidents' is not a queryable property")]
    [InlineData("\"title\"\" = 'x' OR \"\"title\" = 'y'", 0, "is not a queryable property")]
    [InlineData("i.title = 'x'", 0, "'i.title' is not a queryable property")]
    [InlineData("deleted_at IS NULL", 0, "'deleted_at' is not a queryable property")]
    [InlineData("pg_sleep(10) IS NULL", 0, "PG_SLEEP is not supported")]
    [InlineData("S_INTERSECTS(geometry, POINT(1 2)); DROP TABLE incidents", 34, "unexpected character ';'")]
    [InlineData("S_INTERSECTS(geometry, POINT(1 2) OR 1=1)", 34, "expected ',' or ')'")]
    [InlineData("occurred_at > TIMESTAMP('2016-01-01T00:00:00Z''); DROP TABLE incidents; --')", 24, "is not an RFC 3339 timestamp")]
    [InlineData("S_DWITHIN(geometry, POINT(1 2), 1, \"meters); DROP TABLE incidents; --\")", 35, "the unit of S_DWITHIN")]
    public void Sql_outside_quotes_is_a_syntax_or_name_error(string filter, int position, string message)
    {
        Cql2Assert.Fails(filter, position, message);
    }

    [Theory]
    [InlineData("""{"op":"=","args":[{"property":"title) OR (1=1"},"x"]}""", "is not a queryable property")]
    [InlineData("""{"op":"= 1 OR 1=1 --","args":[{"property":"title"},"x"]}""", "is not supported")]
    [InlineData("""{"op":"like; DROP TABLE incidents","args":[{"property":"title"},"x"]}""", "is not supported")]
    [InlineData("""{"op":"s_dwithin","args":[{"property":"geometry"},{"type":"Point","coordinates":[1,2]},1,"m); DROP TABLE incidents; --"]}""", "the unit of S_DWITHIN")]
    public void Cql2_json_names_are_checked_against_whitelists(string json, string message)
    {
        Cql2Assert.Fails(json, -1, message, Cql2.JsonLanguage);
    }

    [Fact]
    public void Cql2_json_string_values_become_parameters()
    {
        var compiled = Cql2Assert.Compiles("""{"op":"=","args":[{"property":"title"},"x' OR 1=1 --"]}""", Cql2.JsonLanguage);

        Assert.Equal("i.title = @f0", compiled.Sql);
        Assert.Equal("x' OR 1=1 --", compiled.Parameters.Single().Value);
    }

    /// <summary>The quoted strings the compiler writes itself (CASEI's folding tables, unaccent's dictionary).</summary>
    private static readonly HashSet<string> OwnStrings =
        Regex.Matches(CaseFolding.Sql("t", "t") + " 'public.unaccent'", "'[^']*'").Select(m => m.Value).ToHashSet();

    private static void AssertOnlySqlStructure(string compiled)
    {
        var sql = Regex.Replace(compiled, "'[^']*'", m => OwnStrings.Contains(m.Value) ? "" : m.Value);
        Assert.DoesNotContain("'", sql);
        Assert.DoesNotContain(";", sql);
        Assert.DoesNotContain("--", sql);
        Assert.DoesNotContain("$$", sql);
        Assert.DoesNotContain("DROP", sql, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("pg_sleep", sql, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("UNION", sql, StringComparison.OrdinalIgnoreCase);
    }
}
