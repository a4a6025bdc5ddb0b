using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace IncidentMap.Tests.Hostile;

/// <summary>Who sends a hostile request.</summary>
public enum Caller
{
    /// <summary>A key with read, write and admin.</summary>
    Admin,
    /// <summary>No key (headers of the case may add a bad one).</summary>
    Anonymous,
    /// <summary>A key with read only.</summary>
    ReadOnly,
}

/// <summary>What a hostile request must get back.</summary>
public enum Expect
{
    /// <summary>A 4xx answer with an application/problem+json body (a HEAD answer has no body).</summary>
    Problem,

    /// <summary>
    /// A documented exception: the hostile text is legitimate data here (free-text filters such as
    /// <c>q</c>, <c>tags</c> or <c>actors</c> match any text; reads need no key; a huge <c>limit</c>
    /// is clamped as the README says), so 2xx is right. Never 5xx; a 4xx must still be a problem.
    /// </summary>
    NoServerError,
}

/// <summary>
/// One row of the hostile table. <see cref="Path"/> and header values may hold {id}, {id2}, {id3}
/// (the fixture's target incidents), {etag} (the first target's current ETag) and {ver} (its version).
/// </summary>
public sealed record HostileCase(string Name, HttpMethod Method, string Path)
{
    public Func<HttpContent>? Body { get; init; }
    public IReadOnlyList<(string Name, string Value)> Headers { get; init; } = [];
    public Caller Caller { get; init; } = Caller.Admin;
    public Expect Expect { get; init; } = Expect.Problem;

    /// <summary>The statuses allowed, where the README names them (413, 415 …); null allows any 4xx.</summary>
    public int[]? Statuses { get; init; }

    public override string ToString() => Name;
}

/// <summary>What came back, whichever way the request was sent.</summary>
public sealed record HostileResponse(int Status, string? ContentType, string Body);

public static class HostileAssert
{
    /// <summary>Never 5xx; a problem document for every 4xx; a 4xx at all unless the case says otherwise.</summary>
    public static void Answered(HostileCase c, HostileResponse r, string url)
    {
        var shown = r.Body.Length > 600 ? r.Body[..600] + "…" : r.Body;
        var what = $"{c.Name}: {c.Method} {(url.Length > 200 ? url[..200] + "…" : url)} answered {r.Status} {r.ContentType}: {shown}";
        Assert.True(r.Status < 500, what);
        if (c.Expect == Expect.Problem)
        {
            Assert.True(r.Status is >= 400 and < 500, what);
            if (c.Statuses is { } allowed) Assert.True(allowed.Contains(r.Status), $"expected one of {string.Join(", ", allowed)}; {what}");
        }
        if (r.Status < 400 || c.Method == HttpMethod.Head) return;

        Assert.True(r.ContentType == "application/problem+json", $"not a problem document; {what}");
        var problem = JsonNode.Parse(r.Body)!.AsObject();
        Assert.True(problem["status"]?.GetValue<int>() == r.Status, $"problem status differs; {what}");
        Assert.False(string.IsNullOrWhiteSpace(problem["title"]?.GetValue<string>()), $"problem without title; {what}");
    }
}

/// <summary>Request bodies and JSON text for hostile cases. Every title carries <see cref="HostileFixture.Marker"/>.</summary>
public static class HostileJson
{
    public const string GeoJson = "application/geo+json";
    public const string MergePatch = "application/merge-patch+json";
    public const string Point = """{"type":"Point","coordinates":[36.7236,34.7197]}""";

    /// <summary>A JSON string literal (non-ASCII and control characters escaped).</summary>
    public static string Str(string text) => System.Text.Json.JsonSerializer.Serialize(text);

    public static string Title(string what) => Str($"{HostileFixture.Marker} {what}");

    /// <summary>
    /// Valid incident properties titled after <paramref name="what"/>, plus raw members
    /// <paramref name="extra"/> (",\"a\":1"); a member of <paramref name="extra"/> replaces the valid one of its name.
    /// </summary>
    public static string Props(string what, string extra = "", string? titleJson = null)
    {
        var members = new List<string> { "\"title\":" + (titleJson ?? Title(what)) };
        foreach (var (name, value) in new[] { ("event_type", "\"explosions_remote_violence\""), ("occurred_at", "\"2016-02-21T07:30:00Z\"") })
            if (!extra.StartsWith($",\"{name}\":", StringComparison.Ordinal)) members.Add($"\"{name}\":{value}");
        return "{" + string.Join(",", members) + extra + "}";
    }

    public static string Feature(string what, string geometry = Point, string extra = "", string? titleJson = null) =>
        "{\"type\":\"Feature\",\"geometry\":" + geometry + ",\"properties\":" + Props(what, extra, titleJson) + "}";

    public static string Geometry(string type, string coordinates) => $"{{\"type\":\"{type}\",\"coordinates\":{coordinates}}}";

    public static Func<HttpContent> Text(string text, string? mediaType = GeoJson) => () => Content(Encoding.UTF8.GetBytes(text), mediaType);

    /// <summary>For big bodies: made when sent, not kept in the table.</summary>
    public static Func<HttpContent> Lazy(Func<string> text, string? mediaType = GeoJson) => () => Content(Encoding.UTF8.GetBytes(text()), mediaType);

    public static Func<HttpContent> Bytes(Func<byte[]> bytes, string? mediaType = GeoJson) => () => Content(bytes(), mediaType);

    /// <summary>A body without Content-Length: the server must stop reading at its limit.</summary>
    public static Func<HttpContent> Chunked(Func<string> text, string mediaType = GeoJson) => () =>
    {
        var content = new StreamContent(new UnseekableStream(Encoding.UTF8.GetBytes(text())));
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(mediaType);
        return content;
    };

    private static ByteArrayContent Content(byte[] bytes, string? mediaType)
    {
        var content = new ByteArrayContent(bytes);
        if (mediaType is not null) content.Headers.TryAddWithoutValidation("Content-Type", mediaType);
        return content;
    }

    /// <summary><paramref name="depth"/> opening tokens, <paramref name="inner"/>, and as many closing ones.</summary>
    public static string Nested(int depth, string open, string inner, string close)
    {
        var text = new StringBuilder(depth * (open.Length + close.Length) + inner.Length);
        for (var i = 0; i < depth; i++) text.Append(open);
        text.Append(inner);
        for (var i = 0; i < depth; i++) text.Append(close);
        return text.ToString();
    }

    /// <summary>
    /// A closed ring of <paramref name="vertices"/> positions, written compactly ([3,4]) or with six
    /// decimals; a million compact ones stay under the 8 MiB body limit, precise ones do not.
    /// </summary>
    public static string Ring(int vertices, bool precise)
    {
        var text = new StringBuilder(vertices * (precise ? 24 : 6));
        text.Append("[[0,0]");
        for (var i = 1; i < vertices - 1; i++)
        {
            text.Append(',');
            if (precise) text.Append('[').Append(10 + i % 9).Append('.').Append(100000 + i % 899999).Append(',').Append(20 + i % 7).Append(".123456]");
            else text.Append('[').Append(1 + i % 9).Append(',').Append(1 + i % 7).Append(']');
        }
        return text.Append(",[0,0]]").ToString();
    }

    /// <summary>A Feature whose summary is padded to <paramref name="bytes"/> bytes.</summary>
    public static string Padded(string what, int bytes) =>
        Feature(what, extra: ",\"summary\":\"" + new string('x', bytes) + "\"");

    private sealed class UnseekableStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }
}
