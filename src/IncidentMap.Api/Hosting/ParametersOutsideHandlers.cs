using System.Collections.Frozen;
using Microsoft.AspNetCore.Http.Metadata;
using IncidentMap.Api.Incidents;
using IncidentMap.Api.Problems;
using IncidentMap.Api.Querying;

namespace IncidentMap.Api.Hosting;

/// <summary>
/// The unknown-parameter check (a 400 naming the parameter) where no handler of ours reads the query:
/// the OpenAPI document (Swashbuckle's, checked where Swashbuckle serves it: ServiceDescription) and OPTIONS.
/// Each took any parameter with a 200 or 204 where every other path refuses it (audit), so <c>?bogus=1</c>
/// passed unnoticed there alone. The health probes (ASP.NET Core's) still answer whatever a load balancer or
/// monitor appends (a cache-buster such as <c>?_=1733050000</c>): a probe refused for its query would take a
/// healthy instance out of service (review).
/// </summary>
public static class ParametersOutsideHandlers
{
    /// <summary>The discovery documents' own check (<see cref="JsonOnlyResource"/>): only f=json, worded the same.</summary>
    private static readonly JsonOnlyResource JsonOnly = new();

    private static readonly EndpointFilterDelegate Accepted = _ => ValueTask.FromResult<object?>(null);

    /// <summary>
    /// The 400 naming a query parameter other than f=json, as the discovery documents answer; null when the query
    /// holds none. Only asked of requests with a query string.
    /// </summary>
    public static async ValueTask<IResult?> JsonOnlyProblemAsync(HttpContext context) =>
        await JsonOnly.InvokeAsync(new DefaultEndpointFilterInvocationContext(context), Accepted) as IResult;

    /// <summary>
    /// After routing and authorization (a request refused for its key hears that first), beside the query's
    /// encoding check:
    /// <list type="bullet">
    /// <item>OPTIONS takes the names of the parameters its resource's other methods take (items: the incident
    /// query's; an incident: f), so an OPTIONS of any URL a client reads is answered; any other name is a 400.
    /// Their values are not checked: OPTIONS answers which methods the resource allows, which no value changes
    /// (<c>?limit=0</c> is GET's 400, not OPTIONS'). A CORS preflight never gets here: the CORS middleware
    /// answers it first, whatever its query.</item>
    /// </list>
    /// Requests without a query string (nearly all) pass at the cost of one check.
    /// </summary>
    public static IApplicationBuilder UseParameterChecksOutsideHandlers(this IApplicationBuilder app)
    {
        // Built at the first OPTIONS with a query: the endpoint table is complete once the app serves.
        FrozenDictionary<string, FrozenSet<string>>? optionsTake = null;
        return app.Use(async (context, next) =>
        {
            if (!context.Request.QueryString.HasValue || context.GetEndpoint() is not RouteEndpoint endpoint)
            {
                await next(context);
                return;
            }
            IResult? refused = null;
            if (HttpMethods.IsOptions(context.Request.Method)
                     && (optionsTake ??= OptionsParameters(context.RequestServices.GetRequiredService<EndpointDataSource>()))
                         .TryGetValue(endpoint.RoutePattern.RawText ?? "", out var taken))
            {
                foreach (var (name, _) in context.Request.Query)
                    if (!taken.Contains(name))
                    {
                        refused = Problem.BadParameter(name, Problem.NotAParameter);
                        break;
                    }
            }
            if (refused is null) await next(context);
            else await refused.ExecuteAsync(context);
        });
    }

    /// <summary>
    /// For each route OPTIONS alone answers, the query parameters the other methods of that route take. Keyed by
    /// the route's text, not the endpoint: routing and this data source each build their own endpoint objects.
    /// </summary>
    private static FrozenDictionary<string, FrozenSet<string>> OptionsParameters(EndpointDataSource endpoints)
    {
        var routes = endpoints.Endpoints.OfType<RouteEndpoint>().Where(e => e.RoutePattern.RawText is not null).ToList();
        return routes
            .Where(e => e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods is [var only] && HttpMethods.IsOptions(only))
            .Select(e => e.RoutePattern.RawText!)
            .Distinct()
            .ToFrozenDictionary(route => route, route => routes.Where(e => e.RoutePattern.RawText == route).SelectMany(Takes).ToFrozenSet());
    }

    /// <summary>The query parameters an endpoint takes, as its metadata declares them (and the OpenAPI document lists them).</summary>
    private static IEnumerable<string> Takes(Endpoint endpoint)
    {
        var metadata = endpoint.Metadata;
        if (metadata.GetMetadata<JsonOnlyResource>() is not null) yield return "f";
        foreach (var doc in metadata.GetOrderedMetadata<QueryParameterDoc>()) yield return doc.Name;
        if (metadata.GetMetadata<QueryParametersMetadata>() is not { } incidentQuery) yield break;
        foreach (var name in QueryParser.Parameters.Keys)
            if (incidentQuery.Page is not { } page || !QueryParser.PageParameters.Contains(name) || page.Contains(name))
                yield return name;
    }
}
