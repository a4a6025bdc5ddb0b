using IncidentMap.Api.Database;

namespace IncidentMap.Api.Security;

/// <summary>
/// <c>keys create NAME [--scopes read,write,admin] [--replace]</c>, <c>keys list</c>, <c>keys revoke ID|NAME</c>.
/// Exit code 0 when done, 1 when the database refused (a name taken, no such key), 2 for a usage error:
/// an option it does not know, or one without its value, is refused rather than ignored (a key made
/// with read scope only when write was meant is worse than none).
/// </summary>
public static class KeysCommand
{
    public const string Usage = "usage: keys create NAME [--scopes read,write,admin] [--replace] | keys list | keys revoke ID|NAME";

    public static async Task<int> RunAsync(ApiKeys keys, Migrator migrator, string[] args)
    {
        switch (args)
        {
            case ["create", var name, .. var options] when !name.StartsWith('-'):
                string[] scopes = [Scopes.Read];
                bool scoped = false, replace = false;
                for (var i = 0; i < options.Length; i++)
                {
                    switch (options[i])
                    {
                        case "--scopes" when !scoped && i + 1 < options.Length && !options[i + 1].StartsWith('-'):
                            // Each scope once: "read,read" was stored as {read,read}.
                            scopes = options[++i].Split(',', StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal).ToArray();
                            scoped = true;
                            break;
                        case "--scopes" when !scoped:
                            return Fail("--scopes needs a value, such as --scopes read,write");
                        case "--replace" when !replace:
                            replace = true;
                            break;
                        case "--scopes" or "--replace":
                            return Fail($"{options[i]} is given twice");
                        default:
                            return Fail($"'{options[i]}' is not understood");
                    }
                }
                // Naming the scope refused: "write,bogus" was told only which scopes there are.
                if (scopes.Where(s => !Scopes.All.Contains(s)).ToList() is [_, ..] unknown)
                {
                    await Console.Error.WriteLineAsync(
                        $"{string.Join(", ", unknown.Select(s => $"'{s}'"))} {(unknown.Count == 1 ? "is not a scope" : "are not scopes")}: scopes must be among {string.Join(", ", Scopes.All)}");
                    return 2;
                }
                if (ApiKeys.NameProblem(name) is { } badName)
                {
                    await Console.Error.WriteLineAsync($"key name '{name}' {badName}");
                    return 2;
                }
                await migrator.MigrateStepAsync();
                string key;
                ApiKeyInfo info;
                try
                {
                    (key, info) = await keys.CreateAsync(name, scopes, replace);
                }
                catch (Npgsql.PostgresException e) when (e.SqlState == Npgsql.PostgresErrorCodes.UniqueViolation)
                {
                    await Console.Error.WriteLineAsync($"a live key is already named '{name}' (revoke it, or use --replace)");
                    return 1;
                }
                Console.WriteLine(key);
                await Console.Error.WriteLineAsync($"created key {info.Id} '{info.Name}' with scopes {string.Join(",", info.Scopes)}; the key above is shown only now");
                return 0;
            case ["list"]:
                await migrator.MigrateStepAsync();
                foreach (var k in await keys.ListAsync())
                    Console.WriteLine($"{k.Id}\t{k.Name}\t{k.Prefix}…\t{string.Join(",", k.Scopes)}\t{(k.RevokedAt is { } revoked ? "revoked " + revoked.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture) : "live")}");
                return 0;
            case ["revoke", var idOrName] when !idOrName.StartsWith('-'):
                await migrator.MigrateStepAsync();
                if (await keys.RevokeAsync(idOrName))
                {
                    await Console.Error.WriteLineAsync($"revoked '{idOrName}'; it is refused everywhere within {ApiKeyAuthentication.CacheFor.TotalSeconds:0} s");
                    return 0;
                }
                await Console.Error.WriteLineAsync($"no live key '{idOrName}'");
                return 1;
            case ["create", ..]:
                return Fail("keys create needs a NAME first");
            case ["list", ..]:
                return Fail($"keys list takes no arguments, not '{string.Join(' ', args[1..])}'");
            case ["revoke", ..]:
                return Fail("keys revoke takes one ID or NAME");
            default:
                return Fail(args.Length == 0 ? "a subcommand is missing" : $"'{args[0]}' is not a keys subcommand");
        }
    }

    private static int Fail(string problem)
    {
        Console.Error.WriteLine($"keys: {problem}; {Usage}");
        return 2;
    }
}
