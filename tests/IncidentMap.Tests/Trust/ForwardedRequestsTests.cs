using System.Net;
using IncidentMap.Api.Security;
using Microsoft.AspNetCore.Http;

namespace IncidentMap.Tests.Trust;

/// <summary>How a request's missing host is named, and which forwarded hosts and prefixes are taken (<see cref="ForwardedRequests"/>).</summary>
public sealed class ForwardedRequestsTests
{
    [Theory]
    [InlineData("::ffff:10.1.2.3", 8080, "http", "10.1.2.3:8080")]
    [InlineData("fe80::1%2", 8080, "http", "[fe80::1]:8080")]
    [InlineData("2001:db8::1", 443, "https", "[2001:db8::1]")]
    [InlineData("10.1.2.3", 80, "http", "10.1.2.3")]
    [InlineData("10.1.2.3", 443, "http", "10.1.2.3:443")]
    public void The_address_a_request_reached_is_named_as_a_URL_names_it(string address, int port, string scheme, string expected) =>
        Assert.Equal(new HostString(expected), ForwardedRequests.LocalAuthority(IPAddress.Parse(address), port, scheme));

    [Fact]
    public void Without_an_IP_endpoint_there_is_no_address_to_name() =>
        Assert.Null(ForwardedRequests.LocalAuthority(null, 0, "http"));

    [Theory]
    [InlineData("maps.example.org", true)]
    [InlineData("maps.example.org:8443", true)]
    [InlineData("192.0.2.1:80", true)]
    [InlineData("[2001:db8::1]:443", true)]
    [InlineData("[2001:db8::1]", true)]
    [InlineData("maps.example.org:", false)]
    [InlineData("maps.example.org:99999", false)]
    [InlineData("maps.example.org/x", false)]
    [InlineData("user@maps.example.org", false)]
    [InlineData("2001:db8::1", false)]
    [InlineData("[fe80::1%eth0]", false)]
    [InlineData("[2001:db8::1]x", false)]
    [InlineData(":8080", false)]
    public void A_forwarded_host_is_a_host_and_an_optional_port(string host, bool valid) =>
        Assert.Equal(valid, ForwardedRequests.IsHost(host));

    [Theory]
    [InlineData("/maps", "/maps")]
    [InlineData("/maps/", "/maps")]
    [InlineData("/gis/v1", "/gis/v1")]
    [InlineData("/", "")]
    [InlineData("//evil.example", null)]
    [InlineData("/a//b", null)]
    [InlineData("/a/../b", null)]
    [InlineData("/a/./b", null)]
    [InlineData("/a%2F..", null)]
    [InlineData("/a?b", null)]
    [InlineData("/a#b", null)]
    [InlineData("/a\\b", null)]
    [InlineData("/a b", null)]
    [InlineData("maps", null)]
    public void A_forwarded_prefix_is_a_plain_path_without_its_trailing_slash(string prefix, string? pathBase) =>
        Assert.Equal(pathBase, ForwardedRequests.Prefix(prefix));
}
