using System.Net;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;
using static IncidentMap.Tests.Querying.QueryHelpers;

namespace IncidentMap.Tests.Querying;

/// <summary>sortby, keyset paging through next links (also while incidents arrive), numberMatched.</summary>
[Collection(ApiCollection.Name)]
public sealed class SortingAndPagingTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    /// <summary>An incident as the test sends it; Created orders created_at (and updated_at unless patched later).</summary>
    private sealed record Row(string Title, string OccurredAt, int Fatalities, double NorthKm)
    {
        public int Created { get; set; }
        public int Updated { get; set; }
    }

    // Ties on purpose in every key: the id must break them and pages must still be stable.
    private static Row[] Dataset() =>
    [
        new("Bravo", "2016-02-21T10:00:00Z", 10, 5),
        new("Alpha", "2016-02-21T08:00:00Z", 3, 1),
        new("Charlie", "2016-02-21T10:00:00Z", 60, 3),
        new("Alpha", "2016-02-21T07:00:00Z", 10, 1),
        new("Delta", "2016-02-21T09:00:00Z", 0, 8),
        new("Bravo", "2016-02-21T08:00:00Z", 5, 2),
        new("Echo", "2016-02-21T10:00:00Z", 60, 13),
        new("Alpha", "2016-02-21T12:00:00Z", 3, 0.5),
        new("Charlie", "2016-02-21T07:00:00Z", 10, 5),
    ];

    // Centre of the distance sorts; every incident lies due north of it.
    private const double CentreLat = 5.5, CentreLon = -150.25;

    private sealed class TaggedRows(string tag)
    {
        public string Tag { get; } = tag;
        public Dictionary<long, Row> ById { get; } = [];
        public string Filter => $"tags={Tag}&lat={Inv(CentreLat)}&lon={Inv(CentreLon)}&radius=50km";
    }

    private async Task CreateAsync(TaggedRows set, IEnumerable<Row> rows)
    {
        foreach (var row in rows)
        {
            var feature = Incident(set.Tag, Features.Point(CentreLon, LatitudeNorth(CentreLat, CentreLon, row.NorthKm * 1000)),
                    row.OccurredAt, row.Title)
                .With("fatalities_min", row.Fatalities).With("fatalities_max", row.Fatalities);
            row.Created = row.Updated = set.ById.Count;
            set.ById[await _client.CreateAsync(feature)] = row;
        }
    }

    private static IComparable Key(string field, long id, Row row) => field switch
    {
        "occurred_at" => DateTimeOffset.Parse(row.OccurredAt, System.Globalization.CultureInfo.InvariantCulture),
        "fatalities" => row.Fatalities,
        "title" => row.Title,
        "created_at" => row.Created,
        "updated_at" => row.Updated,
        "id" => id,
        "distance" => row.NorthKm, // along one meridian, distance grows with the northward offset
        _ => throw new ArgumentException(field),
    };

    /// <summary>Asserts that each id is in sortby order relative to the one before it (ties in every key are free).</summary>
    private static void AssertInSortOrder(string sortby, IReadOnlyList<long> ids, TaggedRows set)
    {
        var keys = (sortby.Length == 0 ? "-occurred_at" : sortby).Split(',')
            .Select(k => (Field: k.TrimStart('-'), Descending: k.StartsWith('-'))).ToList();
        for (var n = 1; n < ids.Count; n++)
        {
            var order = keys.Select(k =>
                    Comparer<IComparable>.Default.Compare(Key(k.Field, ids[n - 1], set.ById[ids[n - 1]]), Key(k.Field, ids[n], set.ById[ids[n]]))
                    * (k.Descending ? -1 : 1))
                .FirstOrDefault(c => c != 0);
            Assert.True(order <= 0, $"sortby={sortby}: {ids[n - 1]} comes before {ids[n]} ([{string.Join(", ", ids)}])");
        }
    }

    private static string SortParameter(string sortby) => sortby.Length == 0 ? "" : "&sortby=" + Esc(sortby);

    [Fact]
    public async Task Titles_sort_alphabetically_not_by_bytes_and_page_in_that_order()
    {
        var tag = NewTag();
        foreach (var title in new[] { "Zebra", "apple", "Apple", "Émeute", "emu", "Eagle" })
            await _client.CreateAsync(Incident(tag, title: title));

        var pages = await _client.AllPagesAsync(await _client.GetJsonAsync($"{Items}?tags={tag}&sortby=title&limit=2"));
        var titles = pages.SelectMany(p => p["features"]!.AsArray().Select(f => f!["properties"]!["title"]!.GetValue<string>())).ToList();

        // Byte order was Apple, Eagle, Zebra, apple, emu, Émeute.
        Assert.Equal(["apple", "Apple", "Eagle", "Émeute", "emu", "Zebra"], titles);
    }

    [Theory]
    [InlineData("")]
    [InlineData("-occurred_at")]
    [InlineData("occurred_at")]
    [InlineData("fatalities")]
    [InlineData("-fatalities")]
    [InlineData("title")]
    [InlineData("-title")]
    [InlineData("updated_at")]
    [InlineData("-updated_at")]
    [InlineData("created_at")]
    [InlineData("-created_at")]
    [InlineData("id")]
    [InlineData("-id")]
    [InlineData("distance")]
    [InlineData("-distance")]
    [InlineData("fatalities,-occurred_at")]
    [InlineData("-title,distance")]
    [InlineData("title,occurred_at,-fatalities")]
    public async Task Paging_through_next_links_visits_each_incident_once_in_sort_order(string sortby)
    {
        var set = new TaggedRows(NewTag());
        var rows = Dataset();
        await CreateAsync(set, rows);
        // Editing two incidents moves them to the end of updated_at order.
        var (firstEdited, secondEdited) = (set.ById.Single(p => p.Value == rows[3]).Key, set.ById.Single(p => p.Value == rows[1]).Key);
        foreach (var (id, n) in new[] { (firstEdited, 0), (secondEdited, 1) })
        {
            var patch = new StringContent("""{"properties":{"summary":"edited"}}""", System.Text.Encoding.UTF8, "application/merge-patch+json");
            Assert.Equal(HttpStatusCode.OK, (await _client.SendCurrentAsync(HttpMethod.Patch, $"{Items}/{id}", patch)).StatusCode);
            set.ById[id].Updated = 100 + n;
        }

        var url = $"{Items}?{set.Filter}{SortParameter(sortby)}";
        var pages = await _client.AllPagesAsync(await _client.GetJsonAsync(url + "&limit=2"));
        var paged = pages.SelectMany(Ids).ToList();
        var whole = Ids(await _client.GetJsonAsync(url + "&limit=100"));

        Assert.Equal(5, pages.Count);
        Assert.All(pages, p => Assert.Equal(p["features"]!.AsArray().Count, p["numberReturned"]!.GetValue<int>()));
        Assert.Equal(set.ById.Keys.Order(), paged.Order()); // each exactly once
        Assert.Equal(whole, paged);                         // the same order as one page
        AssertInSortOrder(sortby, paged, set);
    }

    /// <summary>
    /// Pages through the tagged dataset from <paramref name="firstPage"/> while <paramref name="insert"/> adds
    /// incidents between pages: no incident twice, none of the original ones missing, all in sort order.
    /// </summary>
    private async Task AssertStableWhileInsertingAsync(string sortby, Func<TaggedRows, Task<JsonObject>> firstPage,
        Func<int, IEnumerable<Row>> insertAfterPage)
    {
        var set = new TaggedRows(NewTag());
        await CreateAsync(set, Dataset());
        var originals = set.ById.Keys.ToList();

        var pages = await _client.AllPagesAsync(await firstPage(set), pagesRead => CreateAsync(set, insertAfterPage(pagesRead)));
        var seen = pages.SelectMany(Ids).ToList();

        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Empty(originals.Except(seen));
        AssertInSortOrder(sortby, seen, set);
    }

    [Theory]
    [InlineData("-occurred_at")]
    [InlineData("occurred_at")]
    [InlineData("title")]
    [InlineData("-fatalities")]
    [InlineData("updated_at")]
    [InlineData("distance")]
    public async Task Paging_stays_stable_while_new_incidents_arrive_between_pages(string sortby)
    {
        // Some that sort before everything, some after, some tied with rows already seen or still to come.
        static IEnumerable<Row> Arrivals(int pagesRead) => pagesRead switch
        {
            1 => [new("Aaron", "1990-01-01T00:00:00Z", 1000, 0.1), new("Zulu", "2098-06-01T00:00:00Z", 0, 40)],
            2 => [new("Charlie", "2016-02-21T09:00:00Z", 10, 5), new("Bravo", "2016-02-21T10:00:00Z", 5, 2)],
            3 => [new("Alpha", "2016-02-21T07:00:00Z", 60, 1)],
            _ => [],
        };

        await AssertStableWhileInsertingAsync(sortby,
            set => _client.GetJsonAsync($"{Items}?{set.Filter}&sortby={Esc(sortby)}&limit=2"), Arrivals);
    }

    [Fact]
    public async Task Search_paging_stays_stable_while_new_incidents_arrive_between_pages()
    {
        static IEnumerable<Row> Arrivals(int pagesRead) => pagesRead <= 2
            ? [new("Aaron", "2016-01-01T00:00:00Z", 1, 2), new("Bravo", "2016-01-01T00:00:00Z", 1, 2), new("Zulu", "2016-01-01T00:00:00Z", 1, 2)]
            : [];

        await AssertStableWhileInsertingAsync("title",
            set => _client.SearchJsonAsync(new JsonObject { ["tags"] = set.Tag, ["sortby"] = "title", ["limit"] = 3 }), Arrivals);
    }

    [Fact]
    public async Task Number_matched_is_exact_on_the_first_page_and_number_returned_counts_the_features()
    {
        var tag = NewTag();
        for (var n = 0; n < 13; n++) await _client.CreateAsync(Incident(tag));

        var first = await _client.GetJsonAsync($"{Items}?tags={tag}&limit=5");
        Assert.Equal(13L, first["numberMatched"]!.GetValue<long>());
        Assert.Equal(5, first["numberReturned"]!.GetValue<int>());
        Assert.Equal(5, first["features"]!.AsArray().Count);

        var pages = await _client.AllPagesAsync(first);
        Assert.Equal([5, 5, 3], pages.Select(p => p["numberReturned"]!.GetValue<int>()));
        Assert.Equal([5, 5, 3], pages.Select(p => p["features"]!.AsArray().Count));

        // count=true asks for it on a later page too; count=false never.
        var second = NextLink(first)!["href"]!.GetValue<string>();
        Assert.Equal(13L, (await _client.GetJsonAsync(second + "&count=true"))["numberMatched"]!.GetValue<long>());
        Assert.Null((await _client.GetJsonAsync($"{Items}?tags={tag}&limit=5&count=false"))["numberMatched"]);

        var searched = await _client.SearchJsonAsync(new JsonObject { ["tags"] = new JsonArray(tag), ["limit"] = 2 });
        Assert.Equal(13L, searched["numberMatched"]!.GetValue<long>());
        Assert.Equal(2, searched["numberReturned"]!.GetValue<int>());
    }

    [Fact]
    public async Task Count_true_gives_number_matched_on_every_page_reached_through_next_links()
    {
        var tag = NewTag();
        for (var n = 0; n < 5; n++) await _client.CreateAsync(Incident(tag));

        var pages = await _client.AllPagesAsync(await _client.GetJsonAsync($"{Items}?tags={tag}&limit=2&count=true"));

        Assert.Equal(3, pages.Count);
        Assert.All(pages, p => Assert.Equal((long?)5, p["numberMatched"]?.GetValue<long>()));
    }
}
