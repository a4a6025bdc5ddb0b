using System.Security.Cryptography;
using System.Text;
using Dapper;
using IncidentMap.Api.Problems;
using IncidentMap.Api.Security;
using Npgsql;

namespace IncidentMap.Api.Incidents;

/// <summary>An Idempotency-Key as received: scoped to the API key, bound to the body's hash.</summary>
public sealed record IdempotencyRequest(long ApiKeyId, string Key, byte[] BodyHash);

/// <summary>
/// Idempotency-Key on creates, as in the IETF httpapi draft "The Idempotency-Key HTTP Header Field": the key is
/// claimed inside the create's own transaction and stored with its answer there, so a create and its key commit
/// or vanish together. Used by the incidents' and the places' POST.
/// </summary>
public static class IdempotencyKeys
{
    public const string Header = "Idempotency-Key";

    /// <summary>The header of a replayed answer.</summary>
    public const string ReplayedHeader = "Idempotent-Replayed";

    /// <summary>How long a stored key answers retries (and blocks a different body).</summary>
    public static readonly TimeSpan Window = TimeSpan.FromHours(24);

    /// <summary>What an earlier request with the same key left.</summary>
    public abstract record Earlier
    {
        /// <summary>Still running: its claim is not committed yet.</summary>
        public sealed record InFlight : Earlier;
        /// <summary>Another body (or another collection) under the same key.</summary>
        public sealed record Reused : Earlier;
        /// <summary>Done: its answer, to send again. <paramref name="Location"/> is the created item's path, without a path base.</summary>
        public sealed record Answer(string Location, string? ETag, string Body) : Earlier
        {
            public long Id => long.Parse(Location[(Location.LastIndexOf('/') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    /// <summary>
    /// The header as sent: (null, null) when there is none, a 400 when it is given twice (it came joined as "k1,k2",
    /// a third key nobody sent) or is not 1–255 printable ASCII characters (sent empty, it names no request, and the
    /// retry it was meant for would create a second item).
    /// </summary>
    public static (string? Key, IResult? Problem) Read(HttpRequest request)
    {
        var sent = request.Headers[Header];
        if (sent.Count == 0) return (null, null);
        if (sent.Count > 1) return (null, Problem.BadParameter(Header, $"is given {sent.Count} times; send one key"));
        var key = sent.ToString();
        return key.Length is > 0 and <= 255 && key.All(c => c is >= ' ' and <= '~')
            ? (key, null)
            : (null, Problem.BadParameter(Header, "must be 1 to 255 printable ASCII characters"));
    }

    /// <summary>
    /// The claim to make, or null without a key. Incidents' keys are bound to the body's hash alone, as stored since
    /// migration 0006; another collection's (<paramref name="collection"/>) to its name as well, so that a key an
    /// incident's create used is refused for a place, not answered with the incident.
    /// </summary>
    public static IdempotencyRequest? For(HttpContext context, string? key, byte[] bodyHash, string? collection = null)
    {
        if (key is null || context.User.KeyId() is not { } keyId) return null;
        var hash = collection is null ? bodyHash : SHA256.HashData([.. Encoding.ASCII.GetBytes(collection + "\n"), .. bodyHash]);
        return new IdempotencyRequest(keyId, key, hash);
    }

    /// <summary>
    /// Claims the key inside the write transaction: null when it is this request's now. A retry that arrives while
    /// the first request is still running waits briefly on the key's row and then gets <see cref="Earlier.InFlight"/>;
    /// one that arrives after the commit gets the stored answer; a different body under the same key is refused.
    /// </summary>
    public static async Task<Earlier?> ClaimAsync(NpgsqlConnection connection, NpgsqlTransaction tx, IdempotencyRequest key, CancellationToken ct)
    {
        var parameters = new { key.ApiKeyId, key.Key, hash = key.BodyHash, window = Window };
        await connection.ExecuteAsync(new CommandDefinition("""
            SET LOCAL lock_timeout = '300ms';
            DELETE FROM idempotency_keys WHERE api_key_id = @ApiKeyId AND key = @Key AND created_at < now() - @window;
            """, parameters, tx, cancellationToken: ct));
        bool claimed;
        try
        {
            claimed = await connection.ExecuteScalarAsync<bool?>(new CommandDefinition("""
                INSERT INTO idempotency_keys (api_key_id, key, request_hash, status, body)
                VALUES (@ApiKeyId, @Key, @hash, 0, '')
                ON CONFLICT DO NOTHING RETURNING true
                """, parameters, tx, cancellationToken: ct)) is true;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            return new Earlier.InFlight();
        }
        if (claimed)
        {
            // The short wait was for the key alone. Left in force, it cut the create's own writes short:
            // an INSERT waiting on an external_id another transaction (an import batch) holds failed
            // after 0.3 s instead of waiting, as any write does, for that transaction's outcome.
            await connection.ExecuteAsync(new CommandDefinition("SET LOCAL lock_timeout TO DEFAULT", transaction: tx, cancellationToken: ct));
            return null;
        }

        var earlier = await connection.QuerySingleAsync<(byte[] Hash, string? Location, string? ETag, string Body)>(new CommandDefinition(
            "SELECT request_hash, location, etag, body FROM idempotency_keys WHERE api_key_id = @ApiKeyId AND key = @Key",
            parameters, tx, cancellationToken: ct));
        return earlier.Hash.AsSpan().SequenceEqual(key.BodyHash)
            ? new Earlier.Answer(earlier.Location!, earlier.ETag, earlier.Body)
            : new Earlier.Reused();
    }

    /// <summary>Stores the create's answer with its claim, in the create's transaction.</summary>
    public static Task StoreAsync(NpgsqlConnection connection, NpgsqlTransaction tx, IdempotencyRequest key,
        string location, string? etag, string body, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition("""
            UPDATE idempotency_keys SET status = 201, location = @location, etag = @etag, body = @body
            WHERE api_key_id = @ApiKeyId AND key = @Key
            """, new { location, etag, body, key.ApiKeyId, key.Key }, tx, cancellationToken: ct));

    /// <summary>What the OpenAPI document says of the header, on every POST that takes it.</summary>
    public const string Description = "1 to 255 printable ASCII characters naming this request: a retry with the same key " +
                                      "and body gets the first answer again and creates nothing (see the description).";

    /// <summary>The header a replayed answer carries, as the OpenAPI document declares it.</summary>
    public static OpenApi.ResponseHeaderDoc ReplayedDoc =>
        new(ReplayedHeader, "true: the answer of an earlier request with this Idempotency-Key, sent again.", StatusCodes.Status201Created);

    /// <summary>The answer to a key still held, or used with another request; <paramref name="item"/> names what a new key would create.</summary>
    public static IResult Refusal(Earlier earlier, string item) => earlier switch
    {
        Earlier.Reused => Problem.Status(StatusCodes.Status422UnprocessableEntity, "Idempotency-Key reused",
            $"This Idempotency-Key was used with another request (another body, or a create of something else); use a new key for a new {item}.", Header),
        Earlier.InFlight => Problem.Status(StatusCodes.Status409Conflict, "Request in progress",
            "A request with this Idempotency-Key is still being processed; retry shortly to get its answer.", Header),
        _ => throw new ArgumentException($"{earlier} is an answer to send again, not a refusal", nameof(earlier)),
    };

    /// <summary>A replayed answer's headers: the created item's Location (<paramref name="path"/>, below the path base) and Idempotent-Replayed: true.</summary>
    public static void MarkReplayed(HttpContext context, string path)
    {
        context.Response.Headers.Location = context.Request.PathBase + path;
        context.Response.Headers[ReplayedHeader] = "true";
    }
}
