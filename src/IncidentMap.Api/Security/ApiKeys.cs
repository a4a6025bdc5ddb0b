using System.Security.Cryptography;
using System.Text;
using Dapper;
using Npgsql;

namespace IncidentMap.Api.Security;

public static class Scopes
{
    public const string Read = "read";
    public const string Write = "write";
    public const string Admin = "admin";
    public static readonly string[] All = [Read, Write, Admin];

    /// <summary>An editor: a key with the write scope, the only kind that sees deleted incidents (their history, their content in the feed).</summary>
    public static bool IsEditor(System.Security.Claims.ClaimsPrincipal user) => user.HasClaim(ApiKeyAuthentication.ScopeClaim, Write);
}

/// <summary>A stored key, without the secret: its name, scopes and the prefix that identifies it in listings.</summary>
public sealed record ApiKeyInfo(long Id, string Name, string Prefix, string[] Scopes, DateTime CreatedAt, DateTime? RevokedAt);

/// <summary>
/// API keys: 192 random bits behind the recognisable prefix <c>im_</c>. Only a SHA-256 hash is
/// stored (the key's entropy makes a slow hash unnecessary); lookups go by that hash.
/// </summary>
public sealed class ApiKeys(NpgsqlDataSource dataSource, Microsoft.Extensions.Caching.Memory.IMemoryCache? cache = null)
{
    public const string Prefix = "im_";

    public static string Generate() => Prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)).Replace('+', 'A').Replace('/', 'B').TrimEnd('=');

    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    /// <summary>
    /// Key names reach logs, history (changed_by) and DELETE /admin/keys/{idOrName}: named like import
    /// sources (letters and digits with . _ : - inside), and not all digits (a number names a key's id there).
    /// </summary>
    public const string NameRule = "1 to 100 letters, digits, '.', '_', ':' or '-', starting with a letter or digit, not all digits";

    public static bool IsValidName(string? name) => name is not null && NameProblem(name) is null;

    /// <summary>
    /// What is wrong with a name that was given, or null when it is a valid one. Each names the fault and then
    /// the rule: "is required" for a name that was there (all digits, a leading '-') sent the client looking for a missing member.
    /// </summary>
    public static string? NameProblem(string name)
    {
        string Fault(string what) => $"{what}; a key name is {NameRule}";
        if (name.Length == 0) return Fault("is empty");
        if (name.Length > 100) return Fault($"has {name.Length} characters");
        if (!char.IsAsciiLetterOrDigit(name[0])) return Fault($"starts with {Shown(name[0])}");
        foreach (var c in name)
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('.' or '_' or ':' or '-')) return Fault($"holds {Shown(c)}");
        if (name.All(char.IsAsciiDigit)) return Fault("is all digits, which names a key's id in /admin/keys/{idOrName}");
        // The rule is the import sources' pattern: checked again, so the messages above can never let a name through it.
        return Imports.ImportOptions.SourcePattern.IsMatch(name) ? null : Fault("is not a valid name");
    }

    /// <summary>A character as a message shows it: printable as itself, anything else as its code point (never a raw line break or escape in a log).</summary>
    private static string Shown(char c) => char.IsControl(c) || char.IsWhiteSpace(c) || char.IsSurrogate(c) ? $"U+{(int)c:X4}" : $"'{c}'";

    /// <summary>Creates a key; the only time its secret is known. With <paramref name="replace"/>, a live key of that name is revoked first.</summary>
    public async Task<(string Key, ApiKeyInfo Info)> CreateAsync(string name, string[] scopes, bool replace = false, CancellationToken ct = default)
    {
        if (!IsValidName(name)) throw new ArgumentException($"key name '{name}' {NameProblem(name)}", nameof(name));
        var key = Generate();
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        if (replace)
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE api_keys SET revoked_at = now() WHERE name = @name AND revoked_at IS NULL", new { name }, tx, cancellationToken: ct));
        var info = await connection.QuerySingleAsync<KeyRow>(new CommandDefinition("""
            INSERT INTO api_keys (name, prefix, hash, scopes) VALUES (@name, @prefix, @hash, @scopes)
            RETURNING id, name, prefix, scopes, created_at AS createdat, revoked_at AS revokedat
            """, new { name, prefix = key[..8], hash = Hash(key), scopes }, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
        return (key, info.ToInfo());
    }

    private const string KeyColumns = "id, name, prefix, scopes, created_at AS createdat, revoked_at AS revokedat";

    public async Task<IReadOnlyList<ApiKeyInfo>> ListAsync(CancellationToken ct = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return (await connection.QueryAsync<KeyRow>(new CommandDefinition(
            $"SELECT {KeyColumns} FROM api_keys ORDER BY id", cancellationToken: ct))).Select(r => r.ToInfo()).ToList();
    }

    /// <summary>A number is an id, anything else a name: a key named "7" is not key 7.</summary>
    public static bool IsId(string idOrName, out long id) =>
        long.TryParse(idOrName, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out id);

    /// <summary>The key with this id (revoked or not), or the live key with this name; null when there is none.</summary>
    public async Task<ApiKeyInfo?> GetAsync(string idOrName, CancellationToken ct = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var byId = IsId(idOrName, out var id);
        var row = await connection.QuerySingleOrDefaultAsync<KeyRow>(new CommandDefinition(byId
                ? $"SELECT {KeyColumns} FROM api_keys WHERE id = @id"
                : $"SELECT {KeyColumns} FROM api_keys WHERE revoked_at IS NULL AND name = @idOrName",
            new { id, idOrName }, cancellationToken: ct));
        return row?.ToInfo();
    }

    /// <summary>
    /// Revokes the live key with this id or name; false when there is none. This process forgets the key at once (it
    /// went on taking the key for up to <see cref="ApiKeyAuthentication.CacheFor"/> after answering the DELETE 204);
    /// other processes of the same database refuse it within that time.
    /// </summary>
    public async Task<bool> RevokeAsync(string idOrName, CancellationToken ct = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var byId = IsId(idOrName, out var id);
        var hash = await connection.QuerySingleOrDefaultAsync<byte[]>(new CommandDefinition(byId
                ? "UPDATE api_keys SET revoked_at = now() WHERE revoked_at IS NULL AND id = @id RETURNING hash"
                : "UPDATE api_keys SET revoked_at = now() WHERE revoked_at IS NULL AND name = @idOrName RETURNING hash",
            new { id, idOrName }, cancellationToken: ct));
        if (hash is null) return false;
        cache?.Remove(ApiKeyAuthentication.CacheKey(hash));
        return true;
    }

    /// <summary>The live key whose hash matches, or null (unknown and revoked keys look the same).</summary>
    public async Task<ApiKeyInfo?> FindAsync(string key, CancellationToken ct)
    {
        var hash = Hash(key);
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<KeyRow>(new CommandDefinition("""
            SELECT id, name, prefix, scopes, created_at AS createdat, hash FROM api_keys WHERE hash = @hash AND revoked_at IS NULL
            """, new { hash }, cancellationToken: ct));
        // The index lookup already matched; comparing again in constant time keeps the check itself free of timing leaks.
        if (row is null || !CryptographicOperations.FixedTimeEquals(row.Hash, hash)) return null;
        return row.ToInfo();
    }

    private sealed class KeyRow
    {
        public long Id { get; set; }
        public string Name { get; set; } = "";
        public string Prefix { get; set; } = "";
        public string[] Scopes { get; set; } = [];
        public DateTime CreatedAt { get; set; }
        public DateTime? RevokedAt { get; set; }
        public byte[] Hash { get; set; } = [];

        public ApiKeyInfo ToInfo() => new(Id, Name, Prefix, Scopes, CreatedAt, RevokedAt);
    }
}
