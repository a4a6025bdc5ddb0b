using Microsoft.AspNetCore.Authentication;
using System.IO.Compression;
using IncidentMap.Api.Changes;
using IncidentMap.Api.Collections;
using IncidentMap.Api.Database;
using IncidentMap.Api.Health;
using IncidentMap.Api.Imports;
using IncidentMap.Api.Incidents;
using IncidentMap.Api.OpenApi;
using IncidentMap.Api.Places;
using IncidentMap.Api.Problems;
using IncidentMap.Api.Querying;
using IncidentMap.Api.Security;
using IncidentMap.Api.Seeding;
using IncidentMap.Api.Stats;
using IncidentMap.Api.Tiles;
using Microsoft.AspNetCore.ResponseCompression;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.OpenApi;

namespace IncidentMap.Api.Hosting;

public static class IncidentMapHost
{
    public static WebApplicationBuilder AddIncidentMap(this WebApplicationBuilder builder)
    {
        // Every setting is read and checked here, once: a bad one stops the host before it is built.
        var settings = Settings.From(builder.Configuration);
        // Where Urls (--urls), or ASP.NET Core's own ASPNETCORE_URLS, ASPNETCORE_HTTP_PORTS and ASPNETCORE_HTTPS_PORTS
        // say; else every address at PORT when set (the Docker image), else http://localhost:8080 (Settings.FallbackUrls,
        // which the healthcheck command asks too). A default in appsettings.json would win over those, which load before it.
        if (new[] { "urls", "http_ports", "https_ports" }.All(key => string.IsNullOrWhiteSpace(builder.Configuration[key])))
            builder.WebHost.UseUrls(settings.FallbackUrls);
        var services = builder.Services;
        services.AddSingleton(settings);
        // The first hosted service: the host starts them one after another, and WebApplication starts the
        // server after them all, so the schema is in place before the change listener, feed retention
        // or any request needs it (tests hosting the app get the same order).
        services.AddSingleton<StartupTasks>();
        services.AddHostedService(sp => sp.GetRequiredService<StartupTasks>());
        services.AddIncidentDatabase(settings);
        // Migrations run as ConnectionStrings:Migrations when set, granting the service's role what it needs.
        services.AddSingleton(sp => new Migrator(
            sp.GetRequiredKeyedService<Npgsql.NpgsqlDataSource>(DatabaseServiceCollectionExtensions.MigrationsKey),
            sp.GetRequiredService<ILogger<Migrator>>(), settings.AppRole,
            settings is { MigrationsConnectionString: not null, ConnectionString: not null } ? sp.GetRequiredService<Npgsql.NpgsqlDataSource>() : null));
        services.AddSingleton<IncidentReader>();
        services.AddSingleton<MatchCounts>();
        services.AddSingleton<RareValues>();
        services.AddSingleton<IncidentStore>();
        services.AddSingleton<SampleData>();
        services.AddSingleton<DataVersion>();
        services.AddSingleton<CollectionExtent>();
        services.AddMemoryCache(options => options.SizeLimit = 64 * 1024 * 1024);
        services.AddSingleton<Gazetteer>();
        services.AddSingleton<Geocoding>();
        services.AddSingleton<GeoNamesImport>();
        services.AddIncidentImports();
        services.AddSingleton<FeedHorizon>();
        services.AddSingleton<ChangeFeed>();
        services.AddSingleton<ChangeListener>();
        services.AddHostedService(sp => sp.GetRequiredService<ChangeListener>());
        services.AddSingleton<FeedRetention>();
        services.AddHostedService(sp => sp.GetRequiredService<FeedRetention>());
        services.AddHostedService<Tiles.ClusterGrid>();
        services.AddCors(options => options.AddDefaultPolicy(policy =>
        {
            if (settings.AnyOrigin) policy.AllowAnyOrigin();
            else policy.WithOrigins([.. settings.CorsOrigins]);
            policy.WithHeaders("Content-Type", "Accept", "If-Match", "If-None-Match", "Idempotency-Key", ApiKeyAuthentication.Header, "Authorization",
                    "Last-Event-ID", "Prefer", "Cache-Control", "Content-Encoding")
                .WithMethods("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
                .WithExposedHeaders("ETag", "Location", "Link", "Content-Disposition", "Retry-After", "Idempotent-Replayed", "Allow", "Accept-Patch")
                // A browser asks once an hour, not before every write.
                .SetPreflightMaxAge(TimeSpan.FromHours(1));
        }));
        services.AddIncidentMapSecurity(settings);

        services.AddProblemDetails(options => options.CustomizeProblemDetails = ProblemDefaults.Fill);
        // After ASP.NET Core's writer: it takes every client that accepts JSON, this one the rest.
        services.AddSingleton<IProblemDetailsWriter, AnyAcceptProblemWriter>();
        services.AddExceptionHandler<ProblemExceptionHandler>();
        services.AddIncidentMapHealth();
        services.AddIncidentMapOpenApi();
        // gzip or br uploads (Content-Encoding), within the same body limits once decompressed, and
        // refused when cut short (CompleteDecompression).
        services.AddRequestDecompression(CompleteDecompression.Configure);
        services.AddResponseCompression(options =>
        {
            options.EnableForHttps = true;
            options.Providers.Add<BufferedBrotliCompressionProvider>();
            options.Providers.Add<GzipCompressionProvider>();
            options.MimeTypes = ResponseCompressionDefaults.MimeTypes.Concat(
                [IncidentsApi.GeoJson, "application/problem+json", "text/csv", "application/geo+json-seq", "application/x-ndjson", TilesApi.MvtType,
                 "application/schema+json", "application/vnd.oai.openapi+json"]);
        });
        services.Replace(ServiceDescriptor.Singleton<IResponseCompressionProvider, PreferredCodingProvider>());
        services.Configure<GzipCompressionProviderOptions>(o => o.Level = CompressionLevel.Fastest);
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = JsonBody.MaxBytes);
        return builder;
    }

    public static WebApplication UseIncidentMap(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseForwardedHeaders();
        app.UseSecurityHeaders();
        var settings = app.Services.GetRequiredService<Settings>();
        app.UseCacheHeaders(anyOrigin: settings.AnyOrigin, readsNeedKey: settings.RequireKeyForReads);
        app.UseResponseCompression();
        // Before Swashbuckle, so the OpenAPI document and Swagger UI answer cross-origin reads as every other
        // path does (Access-Control-Expose-Headers, the configured origins); only the default policy exists, so
        // CORS needs no endpoint, and a preflight is answered here, whatever its path or query, as it was after routing.
        app.UseCors();

        app.UseRouting();
        // Request decompression removes the Content-Encoding it decodes; an import checks a compressed body to its end first (CheckedFirst).
        app.Use((context, next) =>
        {
            if (context.Request.Headers.ContentEncoding.Count > 0) context.Items[CompleteDecompression.Encoded] = true;
            return next(context);
        });
        // After routing: it takes the body limit from the endpoint (imports allow more).
        app.UseRequestDecompression();
        app.UseAuthentication();
        // Before authorization: a request refused for a bad key still spends its client's tokens.
        app.UseRateLimiter();
        app.UseClientConcurrency();
        // The OpenAPI document and Swagger UI after the limits, which they bypassed (a client could have the
        // document rendered, 0.1 s of CPU, as often as it liked), and before authorization: no key needed.
        // Swashbuckle answers GET alone: the OpenAPI document, Swagger UI's page and the redirect to it
        // were 404 to HEAD. A HEAD is answered as that GET with the body left unsent.
        app.Use(async (context, next) =>
        {
            if (!HttpMethods.IsHead(context.Request.Method)
                || !(context.Request.Path.StartsWithSegments("/swagger") || context.Request.Path.StartsWithSegments("/openapi")))
            {
                await next(context);
                return;
            }
            var body = context.Response.Body;
            context.Request.Method = HttpMethods.Get;
            context.Response.Body = Stream.Null;
            try
            {
                await next(context);
            }
            finally
            {
                context.Request.Method = HttpMethods.Head;
                context.Response.Body = body;
            }
        });
        // The OpenAPI document as the other reads: rendered once, the type its link announces, Vary: Accept,
        // an ETag, no unknown parameter.
        // The description and Swagger UI are reads too: a key sent with one must be valid, as with every other read
        // (they are served before authorization, so its policy did not see them). The health probes take no key.
        app.Use(async (context, next) =>
        {
            if ((context.Request.Path.StartsWithSegments("/openapi") || context.Request.Path.StartsWithSegments("/swagger"))
                && Security.ApiKeyAuthentication.KeyFrom(context.Request) is not null && context.User.Identity?.IsAuthenticated != true)
            {
                await context.ChallengeAsync();
                return;
            }
            await next(context);
        });
        app.UseServiceDescription();
        app.UseSwaggerUI(options =>
        {
            options.RoutePrefix = "swagger";
            // Relative to /swagger/index.html, so that Swagger UI behind a proxy prefix (/maps/swagger) loads /maps/openapi/….
            options.SwaggerEndpoint($"../openapi/{OpenApiSetup.DocumentName}.json", "IncidentMap");
            options.DocumentTitle = "IncidentMap API";
        });

        app.UseAuthorization();
        app.UseDecodedBodiesOnly();
        app.UseUtf8QueryOnly();
        app.UseParameterChecksOutsideHandlers();
        app.MapHealth();
        app.MapCollections();
        app.MapIncidents();
        app.MapTiles();
        app.MapChanges();
        app.MapStats();
        app.MapImports();
        app.MapKeys();
        app.MapPlaces();
        // Explicit, so the endpoint table is complete before the server starts: the `openapi`
        // command renders the document without starting it.
        app.UseEndpoints(_ => { });
        return app;
    }

    public const string Usage = """
        usage: IncidentMap.Api [COMMAND] [--urls URL]
          serve                      run the service (the default)
          migrate                    apply pending database migrations and exit
          seed FILE                  load a GeoJSON FeatureCollection (skips stored external_ids)
          openapi [FILE]             write the OpenAPI document
          keys create NAME [--scopes read,write,admin] [--replace] | keys list | keys revoke ID|NAME
          places import FILE         extend the gazetteer from a GeoNames dump (.txt, .gz, or a .zip of dumps)
          import FILE [--format csv|geojson|ndjson] [--source NAME]
          healthcheck                exit 0 when the local service is ready
          help                       this text
        Configuration comes from appsettings.json and the environment (see README.md); it is checked at startup.
        Host options may follow any command: --urls URL, and settings by section (--Tiles:Cache false).
        Exit codes: 0 done, 1 failed (one line on stderr says why), 2 a usage error; an import stopped by
        Ctrl+C or SIGTERM is 130 or 143, after its report (running the same command again completes it).
        """;

    /// <summary>The command the arguments name (<c>serve</c> when they name none), and the arguments after its name.</summary>
    internal static (string Name, string[] Arguments) Command(string[] args)
    {
        var command = args.Length > 0 && !args[0].StartsWith('-') ? args[0] : "serve";
        return (command, args.Skip(command == "serve" && (args.Length == 0 || args[0] != "serve") ? 0 : 1).ToArray());
    }

    /// <summary>An option, <c>--Key</c> or <c>--Key=value</c>; "-x" is none (ASP.NET Core ignores it), so a word.</summary>
    private static bool IsOption(string arg) => arg.Length > 2 && arg.StartsWith("--", StringComparison.Ordinal);

    /// <summary>One of the host's own options (<c>--urls</c>) or a setting named by its section (<c>--Tiles:Cache</c>).</summary>
    private static bool IsHostOrSectionOption(string arg) =>
        IsOption(arg) && arg[2..].Split('=', 2)[0] is var name && (name.Contains(':') || HostOptionNames.Contains(name, StringComparer.OrdinalIgnoreCase));

    /// <summary>
    /// Whether <paramref name="arg"/> is a host option of <paramref name="command"/>: any option of a command
    /// without options of its own; of <c>import</c> and <c>keys</c>, only <see cref="IsHostOrSectionOption"/>,
    /// the rest being the command's.
    /// </summary>
    private static bool IsHostOption(string command, string arg) =>
        command is "import" or "keys" ? IsHostOrSectionOption(arg) : IsOption(arg);

    /// <summary>
    /// The host options alone, each as one <c>--Key=value</c>: what the host's configuration reads. Given
    /// every argument, ASP.NET Core's command-line provider takes a word starting with '/' (a file's
    /// absolute path) for a switch, and a flag of a command's own (<c>--replace</c>) for a setting, and
    /// either took the next argument as its value: <c>import /data/a.csv --Tiles:Cache false</c> lost
    /// the setting without a word.
    /// </summary>
    internal static string[] ConfigurationArguments(string[] args)
    {
        var (command, rest) = Command(args);
        var options = new List<string>();
        for (var i = 0; i < rest.Length; i++)
        {
            if (!IsHostOption(command, rest[i])) continue;
            if (rest[i].Contains('=')) options.Add(rest[i]);
            else if (i + 1 < rest.Length) options.Add($"{rest[i]}={rest[++i]}");
        }
        return [.. options];
    }

    /// <summary>A host option last on the line with no value (<c>migrate --Tiles:Cache</c>); null when there is none.</summary>
    private static string? MissingValue(string command, string[] rest) =>
        rest is [.., var last] && IsHostOption(command, last) && !last.Contains('=') ? last : null;

    /// <summary>
    /// The arguments that are words of a command without options of its own, not host options
    /// (<c>--urls URL</c>, <c>--Key=value</c>) or their values.
    /// </summary>
    private static List<string> Words(string[] rest)
    {
        var words = new List<string>();
        for (var i = 0; i < rest.Length; i++)
        {
            if (!IsOption(rest[i])) words.Add(rest[i]);
            else if (!rest[i].Contains('=')) i++; // the option's value
        }
        return words;
    }

    /// <summary>The commands <see cref="RunCommandAsync"/> knows.</summary>
    private static readonly string[] Commands = ["serve", "migrate", "seed", "openapi", "keys", "places", "import", "healthcheck", "help"];

    /// <summary>The host's own command-line options; any other host option names a setting's section (<c>--Tiles:Cache</c>).</summary>
    private static readonly string[] HostOptionNames = ["urls", "environment", "contentRoot", "applicationName"];

    /// <summary>
    /// The arguments of a command with options of its own (<c>import</c>, <c>keys</c>) without the host
    /// options among them: <c>--urls URL</c>, the host's other options, and settings named by their
    /// section (<c>--Tiles:Cache false</c>, <c>--Database:AppRole=x</c>), each with its value. The
    /// configuration has read them already. Any other option is the command's to take or refuse, so
    /// <c>keys create n --scope write</c> stays a usage error, not a setting called "scope".
    /// </summary>
    internal static string[] WithoutHostOptions(string[] rest)
    {
        var kept = new List<string>();
        for (var i = 0; i < rest.Length; i++)
        {
            if (!IsHostOrSectionOption(rest[i])) kept.Add(rest[i]);
            else if (!rest[i].Contains('=')) i++; // the option's value
        }
        return [.. kept];
    }

    /// <summary>
    /// <c>IncidentMap.Api [serve]</c> runs the service; <c>migrate</c>, <c>seed FILE</c> and
    /// <c>openapi [FILE]</c>, <c>healthcheck</c> do one job and exit.
    /// </summary>
    public static async Task<int> RunCommandAsync(this WebApplication app, string[] args)
    {
        // The command is the first argument; anything else (--urls URL …) is host configuration.
        var (command, rest) = Command(args);
        if (MissingValue(command, rest) is { } option)
        {
            // The configuration never saw it: refused, not a setting quietly left at its default.
            Console.Error.WriteLine($"{command}: '{option}' needs a value ({option} VALUE or {option}=VALUE)\n{Usage}");
            return 2;
        }
        // Commands without options of their own take host options anywhere after their name and refuse
        // words they would ignore: "openapi out.json --urls X" writes out.json, "openapi a b" is an error.
        var words = Words(rest);
        switch (command)
        {
            case "serve" or "migrate" or "healthcheck" when words is [var extra, ..]:
                // "migrate now" must not pass for a command that did something with "now".
                Console.Error.WriteLine($"{command} takes no arguments ('{extra}' given)\n{Usage}");
                return 2;
            case "seed" or "openapi" when words.Count > 1:
            case "places" when words.Count > 2:
                Console.Error.WriteLine($"{command} takes {(command == "openapi" ? "at most " : "")}one file ('{words[^1]}' given too)\n{Usage}");
                return 2;
            case "serve":
                app.Lifetime.ApplicationStarted.Register(() => AnnounceAddress(app));
                await app.RunAsync();
                return 0;
            case "migrate":
                var applied = await app.Services.GetRequiredService<Migrator>().MigrateStepAsync();
                // The database's own latest: a newer service may have migrated it further than this one knows.
                await using (var versions = app.Services.GetRequiredKeyedService<Npgsql.NpgsqlDataSource>(DatabaseServiceCollectionExtensions.MigrationsKey)
                                 .CreateCommand("SELECT max(version) FROM schema_migrations"))
                {
                    var schema = (string)(await versions.ExecuteScalarAsync())!;
                    Console.WriteLine($"{applied} migration(s) applied; schema at {schema}" +
                        (string.CompareOrdinal(schema, Migrator.LatestVersion) > 0 ? $", newer than this service, which knows migrations up to {Migrator.LatestVersion}" : ""));
                }
                return 0;
            case "seed" when words.Count == 1 && Directory.Exists(words[0]):
            case "openapi" when words.Count == 1 && Directory.Exists(words[0]):
            case "places" when words is ["import", var folder] && Directory.Exists(folder):
                Console.Error.WriteLine($"{words[^1]} is a directory, not a file");
                return 2;
            case "seed" when words.Count == 1 && !File.Exists(words[0]):
            case "places" when words is ["import", var missing] && !File.Exists(missing):
                Console.Error.WriteLine($"no such file: {words[^1]}");
                return 2;
            case "seed" when words.Count == 0:
            case "places" when words is ["import"]:
                Console.Error.WriteLine($"{command}{(command == "places" ? " import" : "")} needs a FILE\n{Usage}");
                return 2;
            case "places" when words is not ["import", _]:
                Console.Error.WriteLine((words.Count == 0 ? "places needs a subcommand" : $"'{words[0]}' is not a places subcommand") + "; places import FILE\n" + Usage);
                return 2;
            case "seed" when words.Count == 1:
                await app.Services.GetRequiredService<Migrator>().MigrateStepAsync();
                // Features with a place name and no geometry are geocoded: the gazetteer is loaded (once) as the service loads it.
                if (app.Services.GetRequiredService<Settings>().GazetteerPath is { Length: > 0 } gazetteerPath)
                    await StepFailedException.RunAsync($"loading the gazetteer from {gazetteerPath}",
                        () => app.Services.GetRequiredService<Gazetteer>().EnsureLoadedAsync(gazetteerPath, CancellationToken.None));
                var result = await app.Services.GetRequiredService<SampleData>().LoadAsync(words[0]);
                Console.WriteLine($"{result.Created} incident(s) created, {result.Skipped} already present");
                return 0;
            case "openapi":
                var json = OpenApiSetup.Render(app.Services);
                if (words.Count == 1) await File.WriteAllTextAsync(words[0], json);
                else Console.Write(json);
                return 0;
            case "places" when words is ["import", var dump]:
                await app.Services.GetRequiredService<Migrator>().MigrateStepAsync();
                await using (var file = File.OpenRead(dump))
                {
                    var imported = await app.Services.GetRequiredService<GeoNamesImport>().ImportAsync(file, dump);
                    // A zip archive's entries, one line each: which were dumps, which were skipped.
                    foreach (var part in imported.Parts.Where(p => p.Name != dump))
                        Console.WriteLine(part.Places > 0
                            ? $"{part.Name}: {part.Read} lines read, {part.Places} places"
                            : $"{part.Name}: skipped, not a GeoNames dump (none of its {part.Read} lines is a GeoNames place)");
                    Console.WriteLine($"{imported.Read} lines read, {imported.Imported} places imported, {imported.Skipped} skipped: " +
                                      $"{imported.Skipped - imported.EditorsPlaces - imported.Repeated} not a populated place (feature class P) or malformed, " +
                                      $"{imported.EditorsPlaces} an editor's place (a name of it within 1 km), " +
                                      $"{imported.Repeated} replaced by a later line of the same place (geonameid)");
                }
                return 0;
            case "import":
                return await ImportCommand.RunAsync(app.Services, WithoutHostOptions(rest));
            case "keys":
                return await KeysCommand.RunAsync(app.Services.GetRequiredService<ApiKeys>(), app.Services.GetRequiredService<Migrator>(), WithoutHostOptions(rest));
            case "healthcheck":
                // For container HEALTHCHECKs: the runtime image has no curl.
                var settings = app.Services.GetRequiredService<Settings>();
                // An https listener on this machine has a certificate for its public name, or a development
                // one: the probe asks over loopback and reads only the status, so it does not check it.
                using (var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator })
                       { Timeout = TimeSpan.FromSeconds(4) })
                {
                    // Exit 1 with one line saying why, as every command fails.
                    var url = $"{settings.HealthcheckUrl}/health/ready";
                    // Host filtering refuses "127.0.0.1" unless AllowedHosts lets any host in: ask as an allowed one.
                    using var request = new HttpRequestMessage(HttpMethod.Get, url);
                    if (!settings.AllowedHosts.Contains("*"))
                        request.Headers.Host = settings.AllowedHosts[0] is var allowed && allowed.StartsWith("*.", StringComparison.Ordinal) ? "healthcheck" + allowed[1..] : allowed;
                    try
                    {
                        var response = await http.SendAsync(request);
                        if (response.IsSuccessStatusCode) return 0;
                        Console.Error.WriteLine($"IncidentMap healthcheck failed: {url} answered {(int)response.StatusCode}");
                        return 1;
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                    {
                        Console.Error.WriteLine($"IncidentMap healthcheck failed: {url}: {(e is TaskCanceledException ? "no answer within 4 s" : e.Message)}");
                        return 1;
                    }
                }
            default:
                // Said before the usage: the usage alone left "Import f" or "imports f" to be guessed at.
                var known = Commands.FirstOrDefault(c => c.Equals(command, StringComparison.OrdinalIgnoreCase));
                Console.Error.WriteLine($"'{command}' is not a command{(known is null ? "" : $" (commands are lower case: {known})")}\n{Usage}");
                return 2;
        }
    }

    /// <summary>
    /// Says where the service is, once it listens: the first http address Kestrel bound (else the first), with a
    /// wildcard host as localhost. run.sh used to print http://localhost:8080 whatever --urls or ASPNETCORE_URLS said.
    /// </summary>
    private static void AnnounceAddress(WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()?.Addresses;
        if (addresses is null || addresses.Count == 0) return;
        var first = addresses.FirstOrDefault(a => a.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) ?? addresses.First();
        var url = BrowsableUrl(first);
        app.Logger.LogInformation("IncidentMap is at {Items}; Swagger UI at {Swagger}", $"{url}/collections/incidents/items", $"{url}/swagger");
    }

    /// <summary>A bound address as a browser reaches it from this machine: <c>http://[::]:8080</c> (what <c>+</c>,
    /// <c>*</c> and <c>0.0.0.0</c> bind) as <c>http://localhost:8080</c>; any trailing slash dropped.</summary>
    internal static string BrowsableUrl(string address)
    {
        var bound = Microsoft.AspNetCore.Http.BindingAddress.Parse(address);
        var host = bound.Host is "[::]" or "0.0.0.0" or "+" or "*" or "" ? "localhost" : bound.Host;
        return $"{bound.Scheme}://{host}:{bound.Port}";
    }
}

/// <summary>
/// Migrates, loads the gazetteer and (optionally) the sample data as the host starts, before the
/// other hosted services (change listener, feed retention) and the server: they find the schema in
/// place, and a failure stops the service before it listens.
/// </summary>
public sealed class StartupTasks(IServiceProvider services, Settings settings, ILogger<StartupTasks> logger) : IHostedService
{
    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;

    public async Task StartAsync(CancellationToken ct)
    {
        if (settings.MigrateOnStartup)
        {
            var applied = await services.GetRequiredService<Migrator>().MigrateStepAsync(ct);
            logger.LogInformation("Schema at {Version} ({Applied} migration(s) applied)", Migrator.LatestVersion, applied);
            // The database answered just now.
            await WarnOfPowerfulLoginAsync(ct);
        }
        // Without migrating, the service may start before the database answers: the login is checked when it does
        // (it was checked only when migrating, though README promises the warning whenever the service starts).
        else if (await AlignFeedAsync(ct)) await WarnOfPowerfulLoginAsync(ct);
        // The gazetteer ships with the binary (db/gazetteer/); Gazetteer:Path = "" skips it.
        if (settings.GazetteerPath.Length > 0)
            await StepFailedException.RunAsync($"loading the gazetteer from {settings.GazetteerPath}",
                () => services.GetRequiredService<Gazetteer>().EnsureLoadedAsync(settings.GazetteerPath, ct));
        if (settings.SeedPath is { } path)
            await StepFailedException.RunAsync($"loading Seed:Path {path}", () => services.GetRequiredService<SampleData>().LoadAsync(path, ct));
    }

    /// <summary>
    /// Without migrating, the change feed is still put in line with this cluster's transaction ids
    /// (a database restored from a dump into another cluster, migration 0035): where the database
    /// answers as the service starts (within a few seconds). Where it does not yet, the service starts
    /// all the same, as it does without migrating; `migrate` aligns the feed too.
    /// </summary>
    /// <returns>Whether the database answered.</returns>
    private async Task<bool> AlignFeedAsync(CancellationToken ct)
    {
        using var patience = CancellationTokenSource.CreateLinkedTokenSource(ct);
        patience.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            await services.GetRequiredService<Migrator>().AlignFeedAsync(patience.Token);
            return true;
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            logger.LogWarning("Could not check the change feed's positions against this cluster's transaction ids ({Message}); " +
                              "after restoring the database from a dump, run migrate before dashboards follow the feed", e.Message);
            return false;
        }
    }

    /// <summary>
    /// Says so when the service's own login may do more than the service needs: a superuser (or one
    /// that may create roles or databases) turns any SQL injection into the whole cluster. It still
    /// serves: a single-login development setup is allowed (README: Configuration).
    /// </summary>
    private async Task WarnOfPowerfulLoginAsync(CancellationToken ct)
    {
        try
        {
            await using var command = services.GetRequiredService<Npgsql.NpgsqlDataSource>().CreateCommand(
                "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = current_user");
            await using var reader = await command.ExecuteReaderAsync(ct);
            if (!await reader.ReadAsync(ct)) return;
            var powers = new[] { "superuser", "createrole", "createdb", "bypassrls" }.Where((_, i) => reader.GetBoolean(i + 1)).ToList();
            if (powers.Count == 0) return;
            logger.LogWarning("The service logs in to PostgreSQL as {Login}, which has {Powers}: give it a login of its own without them " +
                              "(ConnectionStrings:Incidents) and migrate as the schema's owner (ConnectionStrings:Migrations); see README, Configuration",
                reader.GetString(0), string.Join(", ", powers));
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException)
        {
            // Only advice: a database that stopped answering this instant fails the next step, or a request.
            logger.LogDebug("Could not check the service's login: {Message}", e.Message);
        }
    }
}
