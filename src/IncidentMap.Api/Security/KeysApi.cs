using System.Text.Json;
using System.Text.Json.Serialization;
using IncidentMap.Api.Collections;
using IncidentMap.Api.Problems;

namespace IncidentMap.Api.Security;

/// <summary>Key management for holders of an admin key (the same as the `keys` command of the service).</summary>
public static class KeysApi
{
    public static IEndpointRouteBuilder MapKeys(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/admin/keys").WithTags("Administration").RequireAuthorization(SecuritySetup.AdminPolicy).OwnParametersOnly();
        group.MapMethods("", [HttpMethods.Get, HttpMethods.Head], async (ApiKeys keys, CancellationToken ct) => TypedResults.Ok((await keys.ListAsync(ct)).Select(ApiKeyDoc.From)))
            .WithName("listKeys").WithSummary("API keys (never their secrets)").PreconditionsWithoutETag()
            .Produces<ApiKeyDoc[]>(StatusCodes.Status200OK).ProducesProblem(401).ProducesProblem(403);
        group.MapPost("", CreateKey).WithName("createKey").WithSummary("Create an API key; its secret is shown once")
            .WithDescription("Body: {\"name\": \"newsroom\", \"scopes\": [\"read\", \"write\"]}; scopes (read, write, admin) " +
                             "default to [\"read\"] (left out or null), and any other member is a 400. The answer's `key` is the secret: only its hash " +
                             "is stored, so it cannot be shown again (the answer is `Cache-Control: no-store`). `info` and the " +
                             "`Location`, GET /admin/keys/{id}, describe the key without it. A name may be reused once its key is revoked.")
            .Accepts<NewApiKeyRequest>("application/json")
            .Produces<NewApiKeyDoc>(StatusCodes.Status201Created).ProducesProblem(400).ProducesProblem(401).ProducesProblem(403)
            .ProducesProblem(409).ProducesProblem(413).ProducesProblem(415).DeclaresPreconditionsWithoutETag();
        group.MapMethods("/{idOrName}", [HttpMethods.Get, HttpMethods.Head], GetKey).WithName("getKey").WithSummary("One API key (never its secret)")
            .DeclaresPreconditionsWithoutETag()
            .WithDescription("A number is a key's id, revoked keys included; anything else is the name of a live key.")
            .Produces<ApiKeyDoc>(StatusCodes.Status200OK).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);
        group.MapDelete("/{idOrName}", RevokeKey)
            .WithName("revokeKey").WithSummary("Revoke an API key")
            .WithDescription("A key has no ETag: If-Match with entity tags is a 412 and the key stays live, If-Match: * revokes it; " +
                             "If-None-Match: * is a 412 (the key exists).")
            .Produces(204).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404).DeclaresPreconditionsWithoutETag();
        return app;
    }

    /// <summary>A key by id or name, as DELETE takes it (a revoked key's name may be taken again: a name finds the live key).</summary>
    internal static async Task<IResult> GetKey(HttpContext context, string idOrName, ApiKeys keys, CancellationToken ct) =>
        await keys.GetAsync(idOrName, ct) is { } key
            ? Conditional.EvaluateWithoutETag(context) ?? TypedResults.Ok(ApiKeyDoc.From(key))
            : Problem.NotFound($"There is no {(ApiKeys.IsId(idOrName, out _) ? "" : "live ")}key '{idOrName}'.");

    /// <summary>
    /// Revokes a live key, its preconditions evaluated once it is found (RFC 9110 §13.2.1: a key that is not live is a
    /// 404 whatever they say) and before it is revoked: a key has no ETag, so If-Match with tags fails and the key
    /// goes on working. The key may be revoked by another request in between: then it is a 404, as it would be after.
    /// </summary>
    internal static async Task<IResult> RevokeKey(HttpContext context, string idOrName, ApiKeys keys, CancellationToken ct)
    {
        if (await keys.GetAsync(idOrName, ct) is not { RevokedAt: null }) return NoLiveKey(idOrName);
        if (Conditional.EvaluateChangeWithoutETag(context) is { } failed) return failed;
        return await keys.RevokeAsync(idOrName, ct) ? Results.NoContent() : NoLiveKey(idOrName);
    }

    private static IResult NoLiveKey(string idOrName) => Problem.NotFound($"There is no live key '{idOrName}'.");

    /// <summary>
    /// Read by hand rather than bound: a bound record answers a wrong type or a missing body with a
    /// bare 400, and ignores unknown members (an "expires" would silently make a key that never does).
    /// </summary>
    internal static async Task<IResult> CreateKey(HttpRequest http, ApiKeys keys, CancellationToken ct)
    {
        // The collection of keys exists and has no ETag (RFC 9110 §13.1.1–2): evaluated before the body is read.
        if (Conditional.EvaluateChangeWithoutETag(http.HttpContext) is { } failed) return failed;
        var (document, problem) = await Incidents.JsonBody.ReadAsync(http, ["application/json"], ct);
        if (problem is not null) return problem;
        using var _ = document;
        var body = document!.RootElement;
        if (body.ValueKind != JsonValueKind.Object)
            return Problem.Validation([new FieldError("body", "must be an object such as {\"name\": \"newsroom\", \"scopes\": [\"read\", \"write\"]}")], 400);
        var errors = body.EnumerateObject().Where(m => m.Name is not ("name" or "scopes"))
            .Select(m => new FieldError(m.Name, "is not a member of a new key (name, scopes)")).ToList();
        var name = body.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : null;
        var nameProblem = n.ValueKind switch
        {
            JsonValueKind.Undefined or JsonValueKind.Null => $"is required: {ApiKeys.NameRule}",
            JsonValueKind.String => ApiKeys.NameProblem(name!),
            _ => $"must be a string of {ApiKeys.NameRule}",
        };
        if (nameProblem is not null) errors.Add(new FieldError("name", nameProblem));
        string[] scopes = [Scopes.Read];
        // null is the member left out, as the document declares it (nullable, defaults to ["read"]).
        if (body.TryGetProperty("scopes", out var s) && s.ValueKind != JsonValueKind.Null)
        {
            scopes = s.ValueKind == JsonValueKind.Array && s.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String)
                ? s.EnumerateArray().Select(e => e.GetString()!).ToArray() : [];
            if (scopes.Length == 0 || scopes.Any(scope => !Scopes.All.Contains(scope)))
                errors.Add(new FieldError("scopes", $"must be a non-empty array of {string.Join(", ", Scopes.All)}, e.g. [\"read\", \"write\"]"));
        }
        if (errors.Count > 0) return Problem.Validation(errors, 400);
        try
        {
            var (key, info) = await keys.CreateAsync(name!.Trim(), scopes.Distinct().ToArray(), ct: ct);
            // The secret must not outlive this answer in a browser's, proxy's or client library's cache.
            http.HttpContext.Response.Headers.CacheControl = "no-store";
            return TypedResults.Created($"{http.PathBase}/admin/keys/{info.Id}", new NewApiKeyDoc(key, ApiKeyDoc.From(info)));
        }
        catch (Npgsql.PostgresException e) when (e.SqlState == Npgsql.PostgresErrorCodes.UniqueViolation)
        {
            return Problem.Status(409, "Name taken", $"A live key is already named '{name}'.", "name");
        }
    }
}

/// <param name="Name">Required: 1 to 100 letters, digits, '.', '_', ':' or '-', starting with a letter or digit, not all digits (a number names a key's id).</param>
/// <param name="Scopes">read, write, admin; left out or null, ["read"].</param>
public sealed record NewApiKeyRequest(
    [property: JsonPropertyName("name"), System.ComponentModel.DataAnnotations.Required] string Name,
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
