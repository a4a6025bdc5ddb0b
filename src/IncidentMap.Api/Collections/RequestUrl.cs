using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.AspNetCore.WebUtilities;

namespace IncidentMap.Api.Collections;

public static class RequestUrl
{
    /// <summary>The service's root as this request reached it, without a trailing slash (links are built on it).</summary>
    public static string Root(HttpRequest request) => UriHelper.BuildAbsolute(request.Scheme, request.Host, request.PathBase).TrimEnd('/');

    /// <summary>The incidents collection's URL as this request reached the service.</summary>
    public static string Incidents(HttpRequest request) => Root(request) + "/collections/incidents";

    /// <summary>An OGC link object.</summary>
    public static System.Text.Json.Nodes.JsonObject Link(string href, string rel, string type, string title, bool templated = false)
    {
        var link = new System.Text.Json.Nodes.JsonObject { ["href"] = href, ["rel"] = rel, ["type"] = type, ["title"] = title };
        if (templated) link["templated"] = true;
        return link;
    }

    /// <summary>This request's absolute URL with some query parameters set, or removed where the value is null (next, self and alternate links).</summary>
    public static string With(HttpRequest request, params (string Name, string? Value)[] changes)
    {
        var parameters = QueryHelpers.ParseQuery(request.QueryString.Value);
        foreach (var (name, value) in changes)
        {
            if (value is null) parameters.Remove(name);
            else parameters[name] = value;
        }
        return UriHelper.BuildAbsolute(request.Scheme, request.Host, request.PathBase, request.Path, QueryString.Create(parameters));
    }
}
