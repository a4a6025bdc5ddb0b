using System.Globalization;
using IncidentMap.Bench;

const string Usage = """
    usage: IncidentMap.Bench generate [--rows N (1000000)] [--seed N (42)]
           IncidentMap.Bench run --api URL [--api-pid PID] [--duration SECONDS (10)] [--warmup SECONDS (5)] [--api-warmup SECONDS (30)] [--rounds N (3)] [--export-runs N (3)]
                                 [--only radius,bbox,tile-z3,tile-z8,tile-z14,dashboards,exports (all)]
           IncidentMap.Bench sql QUERY       (the SQL the API runs for an items query string, parameters inlined)
    environment: ConnectionStrings__Incidents (the bench database), PG_BIN (pgbench and psql; /usr/lib/postgresql/15/bin)
    """;

if (args is ["sql", var queryString])
{
    var parameters = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(queryString).ToDictionary(p => p.Key, p => p.Value.ToString());
    Console.WriteLine(BenchQuery.From(parameters).Sql + ";");
    return 0;
}
if (args.Length == 0 || args.Length % 2 == 0)
{
    Console.Error.WriteLine(Usage);
    return 2;
}
var options = new Dictionary<string, string>(StringComparer.Ordinal);
for (var n = 1; n < args.Length; n += 2) options[args[n].TrimStart('-')] = args[n + 1];
string? Option(string name) => options.GetValueOrDefault(name);
long Number(string name, long fallback) => Option(name) is { } text ? long.Parse(text, CultureInfo.InvariantCulture) : fallback;

var connectionString = Environment.GetEnvironmentVariable("ConnectionStrings__Incidents");
if (string.IsNullOrEmpty(connectionString))
{
    Console.Error.WriteLine("set ConnectionStrings__Incidents to the bench database (db/cluster.sh url incidentmap_bench)");
    return 2;
}
await using var db = Database.Open(connectionString);

switch (args[0])
{
    case "generate":
        await Loader.GenerateAsync(db, Number("rows", 1_000_000), (int)Number("seed", 42));
        return 0;
    case "run" when Option("api") is { } api:
        await Harness.RunAsync(db, connectionString, new HarnessOptions(
            new Uri(api),
            Option("api-pid") is { } pid ? int.Parse(pid, CultureInfo.InvariantCulture) : null,
            TimeSpan.FromSeconds(Number("warmup", 5)),
            TimeSpan.FromSeconds(Number("duration", 10)),
            (int)Number("export-runs", 3),
            Environment.GetEnvironmentVariable("PG_BIN") ?? "/usr/lib/postgresql/15/bin",
            Option("only") is { } only ? only.Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal) : null,
            TimeSpan.FromSeconds(Number("api-warmup", 30)),
            (int)Math.Max(1, Number("rounds", 3))));
        return 0;
    default:
        Console.Error.WriteLine(Usage);
        return 2;
}
