using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.AspNetCore.WebUtilities;

namespace IncidentMap.Api.Collections;

public static class RequestUrl
{
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
