namespace IncidentMap.Api.Problems;

/// <summary>
/// Resources that take no query parameter but <c>f=json</c> (discovery documents, one incident, tileset
/// metadata): anything else is a 400 naming it (OGC API – Features /req/core/query-param-unknown),
/// where it used to be ignored, so a misspelt or misplaced parameter went unnoticed.
/// </summary>
public sealed class JsonOnlyResource : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        foreach (var (name, values) in context.HttpContext.Request.Query)
        {
            if (name != "f") return Problem.BadParameter(name, Problem.NotAParameter);
            if (values.Count != 1 || values[0] is not ("json" or "geojson"))
                return Problem.BadParameter("f", $"'{values}' is not offered here; this resource is JSON only (f=json)");
        }
        return await next(context);
    }
}

public static class JsonOnlyResourceExtensions
{
    /// <summary>Refuses query parameters other than f=json (see <see cref="JsonOnlyResource"/>); documented in OpenAPI.</summary>
    public static RouteHandlerBuilder JsonOnly(this RouteHandlerBuilder builder) =>
        builder.AddEndpointFilter<JsonOnlyResource>().WithMetadata(new JsonOnlyResource());
}
