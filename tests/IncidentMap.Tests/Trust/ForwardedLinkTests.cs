using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace IncidentMap.Tests.Trust;

/// <summary>
/// The service on real loopback ports, IPv4 and IPv6: requests come from a real address (the
/// forwarded headers middleware trusts by it), and a raw socket can send what HttpClient will not
/// (HTTP/1.0 without Host, an empty Host).
/// </summary>
public abstract class LoopbackFactory(params (string Key, string Value)[] settings) : ConfiguredFactory(settings)
{
    public Uri V4 { get; private set; } = null!;
    public Uri V6 { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        UseKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0);
            kestrel.Listen(IPAddress.IPv6Loopback, 0);
        });
        StartServer();
        var addresses = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        V4 = new Uri(addresses.Single(a => a.Contains("127.0.0.1", StringComparison.Ordinal)));
        V6 = new Uri(addresses.Single(a => a.Contains("[::1]", StringComparison.Ordinal)));
        await base.InitializeAsync();
    }
}

/// <summary>Behind a reverse proxy on this machine (both loopback addresses), which may name two public hosts.</summary>
public sealed class ProxiedFactory() : LoopbackFactory(
    ("ForwardedHeaders:KnownProxies:0", "127.0.0.1"), ("ForwardedHeaders:KnownProxies:1", "::1"),
    ("ForwardedHeaders:AllowedHosts:0", "maps.example.org"), ("ForwardedHeaders:AllowedHosts:1", "*.example.net"));

/// <summary>Behind a proxy elsewhere: requests from this machine are not from it.</summary>
public sealed class ElsewhereProxiedFactory() : LoopbackFactory(("ForwardedHeaders:KnownProxies:0", "192.0.2.1"));

/// <summary>No proxy configured (the default).</summary>
public sealed class DirectFactory() : LoopbackFactory();

/// <summary>
/// Absolute links (landing page, collections, items self/next/alternate, an item's self and
/// collection, tilesets, TileJSON tile templates, the queryables' $id), Location headers and the
/// OpenAPI servers name where the client sent the request: behind a trusted proxy its
/// X-Forwarded-Proto, -Host and -Prefix, and without any host the address the request reached.
/// </summary>
public sealed class ForwardedLinkTests(ProxiedFactory proxied, ElsewhereProxiedFactory elsewhere, DirectFactory direct)
    : IClassFixture<ProxiedFactory>, IClassFixture<ElsewhereProxiedFactory>, IClassFixture<DirectFactory>
{
    private const string Public = "https://maps.example.org/maps/";

    /// <summary>Documents with links of every kind (an item's own is tested apart: it needs an incident).</summary>
    private static readonly string[] DocumentPaths =
    [
        "/",
        "/collections",
        "/collections/incidents",
        "/collections/incidents/items?limit=2",
        "/collections/incidents/queryables",
        "/collections/incidents/schema",
        "/collections/places/schema",
        "/collections/incidents/tiles",
        "/collections/incidents/tiles/WebMercatorQuad",
        "/collections/incidents/tiles/WebMercatorQuad/tilejson.json",
        "/tileMatrixSets",
        "/collections/places/items?limit=2",
    ];

    public static TheoryData<string> Documents => new(DocumentPaths);

    private static HttpRequestMessage Proxied(HttpMethod method, string path, string proto = "https", string host = "maps.example.org", string? prefix = "/maps")
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Add("X-Forwarded-For", "198.51.100.7");
        request.Headers.Add("X-Forwarded-Proto", proto);
        request.Headers.Add("X-Forwarded-Host", host);
        if (prefix is not null) request.Headers.Add("X-Forwarded-Prefix", prefix);
        return request;
    }

    private static HttpClient Client(Uri server, string key) => new() { BaseAddress = server, DefaultRequestHeaders = { { "X-API-Key", key } } };

    /// <summary>Every link of a document: each href, the $id, TileJSON's tiles.</summary>
    private static List<string> Links(JsonNode? node)
    {
        var links = new List<string>();
        void Walk(JsonNode? n)
        {
            switch (n)
            {
                case JsonObject o:
                    foreach (var (name, value) in o)
                    {
                        if (name is "href" or "$id" && value is JsonValue v) links.Add(v.GetValue<string>());
                        else if (name == "tiles" && value is JsonArray tiles) links.AddRange(tiles.Select(t => t!.GetValue<string>()));
                        else Walk(value);
                    }
                    break;
                case JsonArray a:
                    foreach (var item in a) Walk(item);
                    break;
            }
        }
        Walk(node);
        return links;
    }

    private static void AllUnder(string root, List<string> links, string what)
    {
        Assert.True(links.Count > 0, $"{what}: no links");
        Assert.All(links, link => Assert.True(link.StartsWith(root, StringComparison.Ordinal) && Uri.TryCreate(link.Replace("{", "").Replace("}", ""), UriKind.Absolute, out _),
            $"{what}: {link} is not under {root}"));
    }

    private static async Task<JsonNode> JsonOkAsync(HttpResponseMessage response, string what)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{what}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public async Task Behind_a_trusted_proxy_every_link_names_the_public_scheme_host_and_prefix(string path)
    {
        var response = await Client(proxied.V4, proxied.Key).SendAsync(Proxied(HttpMethod.Get, path));

        AllUnder(Public, Links(await JsonOkAsync(response, path)), path);
    }

    [Fact]
    public async Task A_trusted_proxy_over_IPv6_may_name_a_port_and_any_host_the_allowed_list_matches()
    {
        var response = await Client(proxied.V6, proxied.Key).SendAsync(Proxied(HttpMethod.Get, "/collections/incidents/items?limit=2", host: "tiles.example.net:8443", prefix: "/gis/v1"));

        AllUnder("https://tiles.example.net:8443/gis/v1/collections/incidents/items?", Links(await JsonOkAsync(response, "items")), "items");
    }

    [Fact]
    public async Task Writes_behind_a_trusted_proxy_answer_Locations_under_the_prefix_and_the_new_item_links_to_the_public_host()
    {
        var client = Client(proxied.V4, proxied.Key);

        var created = Proxied(HttpMethod.Post, "/collections/incidents/items");
        created.Content = Features.Content(Features.Valid());
        var response = await client.SendAsync(created);
        var feature = await JsonOkAsync(response, "create");
        var id = feature["id"]!.GetValue<long>();
        Assert.Equal($"/maps/collections/incidents/items/{id}", response.Headers.Location?.OriginalString);
        AllUnder(Public, Links(feature), "created item");
        var read = await client.SendAsync(Proxied(HttpMethod.Get, $"/collections/incidents/items/{id}"));
        var item = await JsonOkAsync(read, "item");
        Assert.Contains(Links(item), l => l == $"{Public}collections/incidents/items/{id}");
        Assert.Contains(Links(item), l => l == $"{Public}collections/incidents");

        var key = Proxied(HttpMethod.Post, "/admin/keys");
        key.Content = new StringContent($$"""{"name": "{{Trust.Unique("fwd")}}"}""", Encoding.UTF8, "application/json");
        var keyResponse = await client.SendAsync(key);
        var keyId = (await JsonOkAsync(keyResponse, "key"))["info"]!["id"]!.GetValue<long>();
        Assert.Equal($"/maps/admin/keys/{keyId}", keyResponse.Headers.Location?.OriginalString);

        var import = Proxied(HttpMethod.Post, $"/collections/incidents/imports?async=true&source={Trust.Unique("fwd")}");
        import.Content = new StringContent("external_id,title,event_type,occurred_at,lon,lat\nx1,Forwarded,protests,2020-01-01T00:00:00Z,36.7,34.7\n",
            Encoding.UTF8, "text/csv");
        var importResponse = await client.SendAsync(import);
        var jobId = (await JsonOkAsync(importResponse, "import"))["id"]!.GetValue<long>();
        Assert.Equal($"/maps/collections/incidents/imports/{jobId}", importResponse.Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task The_OpenAPI_document_served_behind_the_proxy_names_the_prefix_as_its_server()
    {
        var document = await JsonOkAsync(await Client(proxied.V4, proxied.Key).SendAsync(Proxied(HttpMethod.Get, "/openapi/v1.json")), "openapi");

        Assert.Equal("/maps", document["servers"]?[0]?["url"]?.GetValue<string>());
    }

    [Theory]
    [InlineData("/", "https://maps.example.org/collections")]
    [InlineData("/maps/", "https://maps.example.org/maps/collections")]
    public async Task A_prefix_of_a_slash_alone_or_with_a_trailing_slash_makes_no_double_slashes(string prefix, string collections)
    {
        var client = Client(proxied.V4, proxied.Key);

        var landing = await JsonOkAsync(await client.SendAsync(Proxied(HttpMethod.Get, "/", prefix: prefix)), "landing");
        Assert.Contains(collections, Links(landing));

        // "//collections/…" would be a link to a host named collections.
        var created = Proxied(HttpMethod.Post, "/collections/incidents/items", prefix: prefix);
        created.Content = Features.Content(Features.Valid());
        var response = await client.SendAsync(created);
        await JsonOkAsync(response, "create");
        Assert.StartsWith(prefix.TrimEnd('/') + "/collections/incidents/items/", response.Headers.Location?.OriginalString);
    }

    [Theory]
    [InlineData("X-Forwarded-Host", "evil.example")]          // not in ForwardedHeaders:AllowedHosts
    [InlineData("X-Forwarded-Host", "example.net")]           // *.example.net is the names under it only
    [InlineData("X-Forwarded-Host", "maps.example.org/evil")]
    [InlineData("X-Forwarded-Host", "maps.example.org:http")]
    [InlineData("X-Forwarded-Proto", "javascript")]
    [InlineData("X-Forwarded-Prefix", "//evil.example")]
    [InlineData("X-Forwarded-Prefix", "/maps/../admin")]
    [InlineData("X-Forwarded-Prefix", "/maps%2F..")]
    [InlineData("X-Forwarded-Prefix", "maps")]
    [InlineData("X-Forwarded-Prefix", "/maps?x=1")]
    public async Task A_forwarded_value_that_would_make_broken_or_foreign_links_is_a_400_naming_the_header(string header, string value)
    {
        var request = Proxied(HttpMethod.Get, "/collections/incidents/items?limit=1");
        request.Headers.Remove(header);
        request.Headers.TryAddWithoutValidation(header, value);

        var response = await Client(proxied.V4, proxied.Key).SendAsync(request);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, header);
        Assert.Contains(value, problem["detail"]!.GetValue<string>());
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
    }

    [Fact]
    public async Task From_a_sender_that_is_not_a_known_proxy_or_with_none_configured_forwarded_headers_change_nothing()
    {
        foreach (var (factory, what) in new (LoopbackFactory, string)[] { (elsewhere, "proxy elsewhere"), (direct, "no proxy") })
        {
            // Not even a nonsense value is looked at: it is not the service's to judge.
            var request = Proxied(HttpMethod.Get, "/collections/incidents/items?limit=2", host: "evil.example", prefix: "//evil.example");

            var response = await Client(factory.V4, factory.Key).SendAsync(request);

            AllUnder($"http://127.0.0.1:{factory.V4.Port}/collections/incidents/items?", Links(await JsonOkAsync(response, what)), what);
        }
    }

    /// <summary>Sends a request as written (HTTP/1.0, or 1.1 with Connection: close) and reads the answer to the end.</summary>
    private static async Task<(int Status, Dictionary<string, string> Headers, string Body)> RawAsync(Uri server, string request)
    {
        using var tcp = new TcpClient(server.HostNameType == UriHostNameType.IPv6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork);
        await tcp.ConnectAsync(IPAddress.Parse(server.Host.Trim('[', ']')), server.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var answer = new MemoryStream();
        await stream.CopyToAsync(answer).WaitAsync(TimeSpan.FromSeconds(30));
        var bytes = answer.ToArray();
        var split = bytes.AsSpan().IndexOf("\r\n\r\n"u8);
        var head = Encoding.ASCII.GetString(bytes, 0, split).Split("\r\n");
        var headers = head.Skip(1).Select(l => l.Split(':', 2)).ToDictionary(p => p[0].Trim(), p => p[1].Trim(), StringComparer.OrdinalIgnoreCase);
        var body = bytes[(split + 4)..];
        if (headers.TryGetValue("Transfer-Encoding", out var coding) && coding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            using var whole = new MemoryStream();
            var at = 0;
            while (true)
            {
                var lineEnd = body.AsSpan(at).IndexOf("\r\n"u8) + at;
                var size = Convert.ToInt32(Encoding.ASCII.GetString(body, at, lineEnd - at).Split(';')[0], 16);
                if (size == 0) break;
                whole.Write(body, lineEnd + 2, size);
                at = lineEnd + 2 + size + 2;
            }
            body = whole.ToArray();
        }
        return (int.Parse(head[0].Split(' ')[1]), headers, Encoding.UTF8.GetString(body));
    }

    public static readonly TheoryData<string, bool> HostlessForms = new()
    {
        { "GET {0} HTTP/1.0\r\n\r\n", false },
        { "GET {0} HTTP/1.0\r\nHost: \r\n\r\n", false },
        { "GET {0} HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n", false },
        { "GET {0} HTTP/1.0\r\n\r\n", true },
        { "GET {0} HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n", true },
    };

    [Theory]
    [MemberData(nameof(HostlessForms))]
    public async Task A_request_without_a_host_gets_links_to_the_address_and_port_it_reached(string form, bool overIPv6)
    {
        var server = overIPv6 ? direct.V6 : direct.V4;
        var root = overIPv6 ? $"http://[::1]:{server.Port}/" : $"http://127.0.0.1:{server.Port}/";
        foreach (var path in DocumentPaths)
        {
            var (status, _, body) = await RawAsync(server, string.Format(form, path));

            Assert.True(status == 200, $"{path}: {status} {body}");
            AllUnder(root, Links(JsonNode.Parse(body)), path);
        }
    }

    [Fact]
    public async Task A_request_without_a_host_through_a_trusted_proxy_gets_the_forwarded_host()
    {
        var (status, _, body) = await RawAsync(proxied.V4,
            "GET /collections/incidents/tiles/WebMercatorQuad/tilejson.json HTTP/1.0\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: maps.example.org\r\nX-Forwarded-Prefix: /maps\r\n\r\n");

        Assert.True(status == 200, body);
        AllUnder(Public, Links(JsonNode.Parse(body)), "tilejson");
    }
}
