using IncidentMap.Api.Database;

namespace IncidentMap.Api.Security;

/// <summary><c>keys create NAME [--scopes read,write,admin] [--replace]</c>, <c>keys list</c>, <c>keys revoke ID|NAME</c>.</summary>
public static class KeysCommand
{
    public static async Task<int> RunAsync(ApiKeys keys, Migrator migrator, string[] args)
    {
        await migrator.MigrateAsync();
        switch (args.FirstOrDefault())
        {
            case "create" when args.Length >= 2:
                var scopesAt = Array.IndexOf(args, "--scopes");
                var scopes = scopesAt > 0 && scopesAt + 1 < args.Length ? args[scopesAt + 1].Split(',', StringSplitOptions.TrimEntries) : [Scopes.Read];
                if (scopes.Any(s => !Scopes.All.Contains(s)))
                {
                    await Console.Error.WriteLineAsync($"scopes must be among {string.Join(", ", Scopes.All)}");
                    return 2;
                }
                if (!ApiKeys.IsValidName(args[1]))
                {
                    await Console.Error.WriteLineAsync($"key name '{args[1]}' {ApiKeys.NameRule}");
                    return 2;
                }
                string key;
                ApiKeyInfo info;
                try
                {
                    (key, info) = await keys.CreateAsync(args[1], scopes, replace: args.Contains("--replace"));
                }
                catch (Npgsql.PostgresException e) when (e.SqlState == Npgsql.PostgresErrorCodes.UniqueViolation)
                {
                    await Console.Error.WriteLineAsync($"a live key is already named '{args[1]}' (revoke it, or use --replace)");
                    return 1;
                }
                Console.WriteLine(key);
                await Console.Error.WriteLineAsync($"created key {info.Id} '{info.Name}' with scopes {string.Join(",", info.Scopes)}; the key above is shown only now");
                return 0;
            case "list":
                foreach (var k in await keys.ListAsync())
                    Console.WriteLine($"{k.Id}\t{k.Name}\t{k.Prefix}…\t{string.Join(",", k.Scopes)}\t{(k.RevokedAt is { } revoked ? "revoked " + revoked.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture) : "live")}");
                return 0;
            case "revoke" when args.Length == 2:
                if (await keys.RevokeAsync(args[1]))
                {
                    await Console.Error.WriteLineAsync($"revoked '{args[1]}'; it is refused everywhere within {ApiKeyAuthentication.CacheFor.TotalSeconds:0} s");
                    return 0;
                }
                await Console.Error.WriteLineAsync($"no live key '{args[1]}'");
                return 1;
            default:
                await Console.Error.WriteLineAsync("usage: keys create NAME [--scopes read,write,admin] [--replace] | keys list | keys revoke ID|NAME");
                return 2;
        }
    }
}
