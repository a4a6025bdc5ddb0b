using System.Net;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Querying;

/// <summary>
/// Lengths of search text are counted in characters (Unicode code points, as PostgreSQL's length()
/// and the write limits count them), not UTF-16 units: a letter outside the Basic Multilingual Plane
/// (Gothic 𐌰, U+10330) is one character, two UTF-16 units.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class TextLengthTests(ApiFixture api)
{
    private const string Gothic = "𐌰";

    private static string Letters(int count) => Uri.EscapeDataString(string.Concat(Enumerable.Repeat(Gothic, count)));

    [Theory]
    [InlineData("/collections/incidents/items?q={0}", 500, "q")]
    [InlineData("/collections/places/items?q={0}", 200, "q")]
    [InlineData("/collections/incidents/items?near={0}&radius=5km", 200, "near")]
    public async Task Search_text_up_to_its_limit_in_characters_is_taken(string template, int limit, string parameter)
    {
        var client = api.CreateClient();
        Assert.Equal(2 * limit, string.Concat(Enumerable.Repeat(Gothic, limit)).Length);

        // At the limit: answered as any other text (near: no such place, which names the place, not its length).
        var atLimit = await client.GetAsync(string.Format(template, Letters(limit)));
        var body = await atLimit.Content.ReadAsStringAsync();
        Assert.DoesNotContain("longer than", body);
        Assert.DoesNotContain("1 to 200 characters", body);
        // A long value sent back is cut, with its length in characters, not UTF-16 units.
        Assert.DoesNotContain($"({2 * limit} characters)", body);
        Assert.True(atLimit.StatusCode is HttpStatusCode.OK or HttpStatusCode.BadRequest, body);

        // One more is refused for its length, naming the parameter.
        var over = await client.GetAsync(string.Format(template, Letters(limit + 1)));
        var problem = await ProblemAssert.IsProblemAsync(over, HttpStatusCode.BadRequest, parameter);
        Assert.Contains("characters", problem.ToJsonString());
    }
}
