using IncidentMap.Api.Incidents;

namespace IncidentMap.Api.Problems;

/// <summary>
/// Endpoints outside the query model take only the query parameters they document
/// (<see cref="QueryParameterDoc"/> metadata), each once; anything else is a 400 naming it. A
/// misspelt <c>?sorce=acled</c> on an import used to run it under the default source, unnoticed.
/// </summary>
public sealed class OwnParametersOnly : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var own = http.GetEndpoint()?.Metadata.GetOrderedMetadata<QueryParameterDoc>() ?? [];
        foreach (var (name, values) in http.Request.Query)
        {
            if (!own.Any(p => p.Name == name)) return Problem.BadParameter(name, Problem.NotAParameter);
            if (values.Count > 1) return Problem.BadParameter(name, "is given more than once");
        }
        return await next(context);
    }
}

public static class OwnParametersOnlyExtensions
{
    /// <summary>Refuses query parameters the endpoint does not document (see <see cref="OwnParametersOnly"/>).</summary>
    public static TBuilder OwnParametersOnly<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter<TBuilder, OwnParametersOnly>().ProducesProblem(StatusCodes.Status400BadRequest);
}
