using System.Text.Json.Serialization;
using IncidentMap.Api.Problems;

namespace IncidentMap.Api.Security;

/// <summary>Key management for holders of an admin key (the same as the `keys` command of the service).</summary>
public static class KeysApi
{
    public static IEndpointRouteBuilder MapKeys(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/admin/keys").WithTags("Administration").RequireAuthorization(SecuritySetup.AdminPolicy).OwnParametersOnly();
        group.MapGet("", async (ApiKeys keys, CancellationToken ct) => TypedResults.Ok((await keys.ListAsync(ct)).Select(ApiKeyDoc.From)))
            .WithName("listKeys").WithSummary("API keys (never their secrets)")
            .Produces<ApiKeyDoc[]>(StatusCodes.Status200OK).ProducesProblem(401).ProducesProblem(403);
        group.MapPost("", CreateKey).WithName("createKey").WithSummary("Create an API key; its secret is shown once")
            .Produces<NewApiKeyDoc>(StatusCodes.Status201Created).ProducesProblem(400).ProducesProblem(401).ProducesProblem(403);
        group.MapDelete("/{idOrName}", async (string idOrName, ApiKeys keys, CancellationToken ct) =>
                await keys.RevokeAsync(idOrName, ct) ? Results.NoContent() : Problem.NotFound($"There is no live key '{idOrName}'."))
            .WithName("revokeKey").WithSummary("Revoke an API key").Produces(204).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);
        return app;
    }

    internal static async Task<IResult> CreateKey(NewApiKeyRequest request, ApiKeys keys, CancellationToken ct)
    {
        if (!ApiKeys.IsValidName(request.Name))
            return Problem.Validation([new FieldError("name", ApiKeys.NameRule)], 400);
        var scopes = request.Scopes ?? [Scopes.Read];
        if (scopes.Length == 0 || scopes.Any(s => !Scopes.All.Contains(s)))
            return Problem.Validation([new FieldError("scopes", $"must be a non-empty list of {string.Join(", ", Scopes.All)}")], 400);
        try
        {
            var (key, info) = await keys.CreateAsync(request.Name.Trim(), scopes.Distinct().ToArray(), ct: ct);
            return TypedResults.Created($"/admin/keys/{info.Id}", new NewApiKeyDoc(key, ApiKeyDoc.From(info)));
        }
        catch (Npgsql.PostgresException e) when (e.SqlState == Npgsql.PostgresErrorCodes.UniqueViolation)
        {
            return Problem.Status(409, "Name taken", $"A live key is already named '{request.Name}'.", "name");
        }
    }
}

public sealed record NewApiKeyRequest(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("scopes")] string[]? Scopes);

public sealed record ApiKeyDoc(
    [property: JsonPropertyName("id")] long Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("prefix")] string Prefix,
    [property: JsonPropertyName("scopes")] string[] Scopes,
    [property: JsonPropertyName("created_at")] DateTime CreatedAt,
    [property: JsonPropertyName("revoked_at")] DateTime? RevokedAt)
{
    public static ApiKeyDoc From(ApiKeyInfo i) => new(i.Id, i.Name, i.Prefix, i.Scopes, i.CreatedAt, i.RevokedAt);
}

/// <summary>A new key: <c>key</c> is the secret, shown this once.</summary>
public sealed record NewApiKeyDoc(
    [property: JsonPropertyName("key")] string Key,
    [property: JsonPropertyName("info")] ApiKeyDoc Info);
