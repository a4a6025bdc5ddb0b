using System.Globalization;
using System.Net;
using IncidentMap.Api.Imports;
using IncidentMap.Api.Security;
using Npgsql;

namespace IncidentMap.Api.Hosting;

/// <summary>
/// Every setting of README.md's Configuration table, read and checked once, when the host is built
/// (before it migrates or serves), and registered as a singleton that the rest of the code reads.
/// A value of the wrong type or out of range stops the service and every command with one message
/// naming the setting, the value and what is allowed (<see cref="SettingsException"/>), instead of
/// a service that starts "Healthy" and fails its requests. An empty value is the default.
/// </summary>
public sealed class Settings
{
    /// <summary>Only <see cref="From"/> builds settings; the initializers below are the defaults it reads against.</summary>
    private Settings() { }

    /// <summary>Npgsql connection string (ConnectionStrings:Incidents); null when not set. The service's own login.</summary>
    public string? ConnectionString { get; private init; }

    /// <summary>
    /// The login that applies migrations (ConnectionStrings:Migrations), when it is not the service's:
    /// one that owns the schema. Null when not set: migrations then run over <see cref="ConnectionString"/>.
    /// </summary>
    public string? MigrationsConnectionString { get; private init; }

    /// <summary>
    /// The role the migrating login grants the service's privileges to after migrating (Database:AppRole);
    /// when not set and a separate migrating login is, the user name of ConnectionStrings:Incidents.
    /// Null: no grants (a single-login deployment, whose login owns what it migrated).
    /// </summary>
    public string? AppRole { get; private init; }

    public bool MigrateOnStartup { get; private init; } = true;

    /// <summary>statement_timeout of every session in seconds; 0 is none (PostgreSQL's meaning).</summary>
    public int StatementTimeoutSeconds { get; private init; } = 30;

    public int MaxAutoPrepare { get; private init; } = 64;

    public int ReadConnections { get; private init; } = DefaultReadConnections;

    public bool TileCache { get; private init; } = true;

    /// <summary>Folder of the shipped gazetteer; empty skips loading it.</summary>
    public string GazetteerPath { get; private init; } = Path.Combine(AppContext.BaseDirectory, "gazetteer");

    /// <summary>GeoJSON FeatureCollection loaded at startup; null for none.</summary>
    public string? SeedPath { get; private init; }

    public bool RequireKeyForReads { get; private init; }

    public int UnknownKeysPerMinute { get; private init; } = 1000;

    public RateLimitOptions RateLimits { get; private init; } = new();

    public IReadOnlyList<IPAddress> KnownProxies { get; private init; } = [];

    public IReadOnlyList<System.Net.IPNetwork> KnownProxyNetworks { get; private init; } = [];

    /// <summary>Hosts a known proxy may name in X-Forwarded-Host (ForwardedHeaders:AllowedHosts); empty is any.</summary>
    public IReadOnlyList<string> ForwardedHosts { get; private init; } = [];

    /// <summary>
    /// ASP.NET Core's host filtering list (AllowedHosts, ';'-separated), which that middleware reads itself;
    /// read here too so that an entry that can never match (with a port or scheme: every request a 400)
    /// stops the service, and so that the healthcheck command can name an allowed host.
    /// </summary>
    public IReadOnlyList<string> AllowedHosts { get; private init; } = ["*"];

    /// <summary>Allowed browser origins, normalised (lower case); <c>["*"]</c> is any.</summary>
    public IReadOnlyList<string> CorsOrigins { get; private init; } = ["*"];

    public bool AnyOrigin => CorsOrigins.Contains("*");

    public int FeedRetentionDays { get; private init; } = 30;

    public ImportSettings Imports { get; private init; } = new();

    public bool RequireIfMatch { get; private init; } = true;

    /// <summary>How long a JSON request body may take to arrive whole (<see cref="Incidents.JsonBody"/>).</summary>
    public int BodySeconds { get; private init; } = 60;

    /// <summary>Where the service listens when no Urls, ASPNETCORE_URLS, ASPNETCORE_HTTP(S)_PORTS or PORT say.</summary>
    public const string DefaultUrls = "http://localhost:8080";

    /// <summary>
    /// Where the service listens when no Urls (--urls, ASPNETCORE_URLS) and no ASPNETCORE_HTTP_PORTS or
    /// ASPNETCORE_HTTPS_PORTS say: every address at PORT when it is set (the Docker image sets it, default 8080,
    /// and clears the base image's ASPNETCORE_HTTP_PORTS), else <see cref="DefaultUrls"/>. The image's entrypoint
    /// turned PORT into Urls for the service alone, so its HEALTHCHECK (the same binary, without the entrypoint)
    /// asked the base image's port 8080: `docker run -e PORT=9000` was reported unhealthy; and that Urls hid an
    /// operator's ASPNETCORE_URLS. Now the service and the healthcheck read PORT here, in one place.
    /// </summary>
    public string FallbackUrls { get; private init; } = DefaultUrls;

    /// <summary>
    /// Where the healthcheck command asks for /health/ready: where this configuration makes the service
    /// listen (<see cref="ListenUrl"/>, else <see cref="FallbackUrls"/>: PORT, else 8080).
    /// </summary>
    public string HealthcheckUrl { get; private init; } = "http://127.0.0.1:8080";

    /// <summary>
    /// The address a local client reaches a service at that listens as Urls, HTTP_PORTS or HTTPS_PORTS
    /// say (null when none is set): the first http URL, else the first https one, with a wildcard host
    /// (<c>+</c>, <c>*</c>, <c>0.0.0.0</c>, <c>localhost</c>) as 127.0.0.1 and <c>[::]</c> as <c>[::1]</c>.
    /// The healthcheck asked PORT alone, so a service started with --urls was reported down, or another
    /// one on 8080 reported for it. A first listener on port 0 (any free port) cannot be asked: null.
    /// </summary>
    internal static string? ListenUrl(string? urls, string? httpPorts, string? httpsPorts)
    {
        static string? First(string? list) =>
            list?.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();
        if (!string.IsNullOrWhiteSpace(urls))
        {
            var addresses = urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(Microsoft.AspNetCore.Http.BindingAddress.Parse).Where(a => !a.IsUnixPipe && !a.IsNamedPipe).ToList();
            // Port 0 is any free port, known only to the service itself: then PORT is asked.
            if ((addresses.FirstOrDefault(a => a.Scheme == "http") ?? addresses.FirstOrDefault()) is { Port: > 0 } address)
            {
                var host = address.Host switch
                {
                    "+" or "*" or "0.0.0.0" or "localhost" or "" => "127.0.0.1",
                    "[::]" => "[::1]",
                    var named => named,
                };
                return $"{address.Scheme}://{host}:{address.Port}";
            }
        }
        if (First(httpPorts) is { } http) return $"http://127.0.0.1:{http}";
        if (First(httpsPorts) is { } https) return $"https://127.0.0.1:{https}";
        return null;
    }

    /// <summary>
    /// Pool size of short reads: one per core of a database on the same machine, and one more to cover
    /// the gaps. With pages computed whole under load, four connections on two cores let the 16-client
    /// radius p99 reach 25–30 ms; three kept it at 19–24 ms for about 6 % less throughput.
    /// </summary>
    public static int DefaultReadConnections => Environment.ProcessorCount + 1;

    // Limits of the ranges below, named where a message quotes them.
    private const int MaxStatementTimeoutSeconds = int.MaxValue / 1000; // statement_timeout is milliseconds in an int
    private const int MaxPoolSize = 1024;                             // far more than a database runs at once

    /// <summary>Reads and checks every setting; throws one <see cref="SettingsException"/> naming every bad one.</summary>
    public static Settings From(IConfiguration configuration)
    {
        var read = new Reader(configuration);
        // The defaults, once: the initializers of these classes.
        var (d, imports, limits) = (new Settings(), new ImportSettings(), new RateLimitOptions());
        var proxies = new List<IPAddress>();
        var networks = new List<System.Net.IPNetwork>();
        foreach (var (key, proxy) in read.List("ForwardedHeaders:KnownProxies"))
        {
            if (IPAddress.TryParse(proxy, out var address)) proxies.Add(address);
            else if (System.Net.IPNetwork.TryParse(proxy, out var network)) networks.Add(network);
            // Dropped quietly, a proxy named wrongly would leave every client behind it one client.
            else read.Bad(key, proxy, "must be an IP address or a network such as 10.0.0.0/8");
        }
        var forwardedHosts = new List<string>();
        foreach (var (key, host) in read.List("ForwardedHeaders:AllowedHosts"))
        {
            if (proxies.Count + networks.Count == 0)
                read.Bad(key, host, "must go with ForwardedHeaders:KnownProxies (environment ForwardedHeaders__KnownProxies__0 …): it applies to X-Forwarded-Host, which is ignored unless a known proxy sent it");
            else if (read.ForwardedHost(key, host) is { } allowed) forwardedHosts.Add(allowed);
        }
        var allowedHosts = read.HostList("AllowedHosts");
        var origins = read.List("Cors:AllowedOrigins").Select(o => read.Origin(o.Key, o.Value)).OfType<string>().ToArray();
        read.LogLevels();
        read.Urls("Urls");
        read.Ports("HTTP_PORTS");
        read.Ports("HTTPS_PORTS");
        // Parsed only once they are known to be valid addresses and ports (else the start stops, naming them).
        var listen = read.Valid ? ListenUrl(configuration["Urls"], configuration["HTTP_PORTS"], configuration["HTTPS_PORTS"]) : null;
        // PORT is read only where it decides (review: a stray PORT failed the start of a service given Urls).
        var fallbackUrls = listen is not null || string.IsNullOrWhiteSpace(configuration["PORT"]) ? DefaultUrls : $"http://+:{read.Int("PORT", 8080, 1, 65535)}";
        var connectionString = read.ConnectionString("ConnectionStrings:Incidents");
        var migrationsConnectionString = read.ConnectionString("ConnectionStrings:Migrations");
        var settings = new Settings
        {
            ConnectionString = connectionString,
            MigrationsConnectionString = migrationsConnectionString,
            AppRole = read.RoleName("Database:AppRole") ?? ServiceLogin(connectionString, migrationsConnectionString),
            MigrateOnStartup = read.Bool("Database:MigrateOnStartup", d.MigrateOnStartup),
            StatementTimeoutSeconds = read.Int("Database:StatementTimeoutSeconds", d.StatementTimeoutSeconds, 0, MaxStatementTimeoutSeconds, "(0 is no limit)"),
            MaxAutoPrepare = read.Int("Database:MaxAutoPrepare", d.MaxAutoPrepare, 0, 10_000, "(0 prepares nothing)"),
            ReadConnections = read.Int("Database:ReadConnections", d.ReadConnections, 1, MaxPoolSize),
            TileCache = read.Bool("Tiles:Cache", d.TileCache),
            GazetteerPath = read.Folder("Gazetteer:Path", d.GazetteerPath),
            SeedPath = read.File("Seed:Path"),
            RequireKeyForReads = read.Bool("Auth:RequireKeyForReads", d.RequireKeyForReads),
            UnknownKeysPerMinute = read.Int("Auth:UnknownKeysPerMinute", d.UnknownKeysPerMinute, 1, int.MaxValue),
            RateLimits = new RateLimitOptions
            {
                AnonymousPerMinute = read.Int("RateLimits:AnonymousPerMinute", limits.AnonymousPerMinute, 1, int.MaxValue),
                KeyPerMinute = read.Int("RateLimits:KeyPerMinute", limits.KeyPerMinute, 1, int.MaxValue),
                ConcurrentStreams = read.Int("RateLimits:ConcurrentStreams", limits.ConcurrentStreams, 1, int.MaxValue),
                ConcurrentExports = read.Int("RateLimits:ConcurrentExports", limits.ConcurrentExports, 1, int.MaxValue),
                ConcurrentRequests = read.Int("RateLimits:ConcurrentRequests", limits.ConcurrentRequests, 1, 100_000),
                ConnectionsPerClient = read.Int("RateLimits:ConnectionsPerClient", limits.ConnectionsPerClient, 0, MaxPoolSize,
                    "(0 is Database:ReadConnections less one)"),
            },
            KnownProxies = proxies,
            KnownProxyNetworks = networks,
            ForwardedHosts = forwardedHosts,
            AllowedHosts = allowedHosts.Count == 0 ? ["*"] : allowedHosts,
            CorsOrigins = origins.Length == 0 ? ["*"] : origins,
            FeedRetentionDays = read.Int("Feed:RetentionDays", d.FeedRetentionDays, 1, 36_500),
            Imports = new ImportSettings
            {
                MaxConcurrent = read.Int("Imports:MaxConcurrent", imports.MaxConcurrent, 1, 1000),
                MaxBytes = read.Long("Imports:MaxBytes", imports.MaxBytes, 1, long.MaxValue),
                Writers = read.Int("Imports:Writers", imports.Writers, 1, 64),
            },
            RequireIfMatch = read.Bool("Writes:RequireIfMatch", d.RequireIfMatch),
            BodySeconds = read.Int("Requests:BodySeconds", d.BodySeconds, 1, 3600),
            FallbackUrls = fallbackUrls,
            HealthcheckUrl = listen ?? ListenUrl(fallbackUrls, null, null)!,
        };
        read.ThrowIfAny();
        return settings;
    }

    /// <summary>
    /// The service's login when migrations run as another: the role to grant to. Null when the two are
    /// one login, or either names no user (Npgsql would take the operating system's; say Database:AppRole).
    /// </summary>
    private static string? ServiceLogin(string? service, string? migrations)
    {
        if (service is null || migrations is null) return null;
        var (app, owner) = (new NpgsqlConnectionStringBuilder(service).Username, new NpgsqlConnectionStringBuilder(migrations).Username);
        return string.IsNullOrEmpty(app) || string.IsNullOrEmpty(owner) || app == owner ? null : app;
    }

    /// <summary>Reads settings and collects what is wrong with them.</summary>
    private sealed class Reader(IConfiguration configuration)
    {
        private readonly List<string> _problems = [];

        /// <summary>No setting read so far was refused.</summary>
        public bool Valid => _problems.Count == 0;

        public void ThrowIfAny()
        {
            if (_problems.Count > 0) throw new SettingsException(string.Join("; ", _problems));
        }

        /// <summary>Names the setting as configuration and as the environment variable that sets it.</summary>
        /// <param name="environment">The variables that set it, when they are not just the key spelt for the environment.</param>
        public void Bad(string key, string value, string rule, string? environment = null) =>
            _problems.Add($"setting {key} (environment {environment ?? key.Replace(":", "__", StringComparison.Ordinal)}) is '{value}': it {rule}");

        /// <summary>The value, or null when not set or empty (a key appsettings.json names with "" is not set).</summary>
        private string? Value(string key) => configuration[key] is { } value && !string.IsNullOrWhiteSpace(value) ? value.Trim() : null;

        public bool Bool(string key, bool fallback)
        {
            if (Value(key) is not { } text) return fallback;
            if (bool.TryParse(text, out var value)) return value;
            Bad(key, text, "must be true or false");
            return fallback;
        }

        public int Int(string key, int fallback, int min, int max, string? note = null) =>
            (int)Long(key, fallback, min, max, note);

        public long Long(string key, long fallback, long min, long max, string? note = null)
        {
            if (Value(key) is not { } text) return fallback;
            if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
                return value;
            var range = max == int.MaxValue || max == long.MaxValue ? $"of at least {min}" : $"from {min} to {max}";
            Bad(key, text, $"must be a whole number {range}{(note is null ? "" : " " + note)}");
            return fallback;
        }

        /// <summary>A connection string Npgsql understands. Its value is never repeated: it holds the password.</summary>
        public string? ConnectionString(string key)
        {
            if (Value(key) is not { } text) return null;
            try
            {
                _ = new NpgsqlConnectionStringBuilder(text).ConnectionString;
                return text;
            }
            catch (Exception e) when (e is ArgumentException or FormatException or InvalidCastException or OverflowException)
            {
                // Npgsql's message quotes part of the text, which may be part of the password (a ';' in
                // an unquoted password makes its tail look like a keyword): only its kind is said.
                _problems.Add($"setting {key} (environment {key.Replace(":", "__", StringComparison.Ordinal)}) is not an Npgsql connection string " +
                              "such as Host=db;Port=5432;Username=u;Password=p;Database=incidentmap: a keyword is unknown or a value does not " +
                              "parse (a value holding ';', '=' or quotes must be quoted: Password='a;b')");
                return null;
            }
        }

        /// <summary>A PostgreSQL role name (at most 63 bytes, as PostgreSQL keeps them); null when not set.</summary>
        public string? RoleName(string key)
        {
            if (Value(key) is not { } text) return null;
            if (System.Text.Encoding.UTF8.GetByteCount(text) <= 63 && !text.Any(char.IsControl)) return text;
            Bad(key, text, "must be the name of a PostgreSQL role (at most 63 bytes), such as incidentmap_app");
            return null;
        }

        /// <summary>An existing folder when set; empty is "none" (""), unset the default.</summary>
        public string Folder(string key, string fallback)
        {
            if (configuration[key] is not { } text) return fallback;
            if (string.IsNullOrWhiteSpace(text)) return "";
            if (!Directory.Exists(text)) Bad(key, text, "must be an existing folder, or empty for none");
            return text;
        }

        /// <summary>An existing file when set; empty or unset is none.</summary>
        public string? File(string key)
        {
            if (Value(key) is not { } text) return null;
            if (!System.IO.File.Exists(text)) Bad(key, text, "must be an existing file, or empty for none");
            return text;
        }

        /// <summary>A list setting's items (Key:0, Key:1 …) with their full keys; an empty item is not set, as any empty value.</summary>
        public IEnumerable<(string Key, string Value)> List(string key)
        {
            // Cors__AllowedOrigins=… (no __0) sets the section itself, which a list never reads.
            if (Value(key) is { } scalar)
                Bad(key, scalar, $"must be a list, one item per setting: {key}:0, {key}:1 … (environment {key.Replace(":", "__", StringComparison.Ordinal)}__0 …)");
            return configuration.GetSection(key).GetChildren().Where(c => !string.IsNullOrWhiteSpace(c.Value)).Select(c => (c.Path, c.Value!)).ToList();
        }

        /// <summary>
        /// A browser origin as browsers send it: scheme://host[:port], nothing after it (not even a
        /// slash), or *. CORS compares origins as text, so anything else would quietly match none.
        /// </summary>
        public string? Origin(string key, string text)
        {
            var origin = text.Trim();
            if (origin == "*") return origin;
            const string rule = "must be * or an origin scheme://host[:port] with no path, not even a trailing slash, and no default port " +
                                "(https://newsroom.example), one per setting (Cors__AllowedOrigins__0, __1 …)";
            if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.UserInfo.Length > 0 || uri.HostNameType == UriHostNameType.Unknown
                || !string.Equals(uri.GetLeftPart(UriPartial.Authority), origin, StringComparison.OrdinalIgnoreCase)
                || origin.Contains(',', StringComparison.Ordinal))
            {
                Bad(key, text, rule);
                return null;
            }
            return origin.ToLowerInvariant();
        }

        /// <summary>
        /// A host X-Forwarded-Host may name, as ASP.NET Core matches it: a host name or address (IPv6 in
        /// brackets) without a port, *.example.org for the names under example.org, or * for any.
        /// </summary>
        public string? ForwardedHost(string key, string text) =>
            HostPattern(key, text, "one per setting (ForwardedHeaders__AllowedHosts__0, __1 …)");

        /// <summary>The ';'-separated host patterns of AllowedHosts (see <see cref="ForwardedHost"/>); empty when not set.</summary>
        public List<string> HostList(string key) =>
            Value(key) is { } text
                ? [.. text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(entry => HostPattern(key, entry, "entries separated by ';' (maps.example.org;localhost)")).OfType<string>()]
                : [];

        private string? HostPattern(string key, string text, string listing)
        {
            var host = text.Trim();
            if (host == "*") return host;
            var wildcard = host.StartsWith("*.", StringComparison.Ordinal);
            var name = wildcard ? host[2..] : host;
            // IsHost takes a port, which ASP.NET Core's list must not have: "[::1]" ends with "]", no ":" outside brackets.
            if (name.StartsWith('[') ? !wildcard && name.EndsWith(']') && ForwardedRequests.IsHost(name) : !name.Contains(':') && ForwardedRequests.IsHost(name))
                return host.ToLowerInvariant();
            Bad(key, text, "must be a host name or address without scheme, port or path (maps.example.org, [2001:db8::1]), " +
                           $"*.example.org for the names under example.org, or *; {listing}");
            return null;
        }

        /// <summary>Ports to listen on, separated by ';' (ASPNETCORE_HTTP_PORTS, ASPNETCORE_HTTPS_PORTS).</summary>
        public void Ports(string key)
        {
            if (Value(key) is not { } text) return;
            foreach (var port in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                if (!int.TryParse(port, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number) || number is < 1 or > 65535)
                {
                    Bad($"ASPNETCORE_{key}", port, "must be port numbers (1 to 65535) separated by ';'");
                    return;
                }
        }

        /// <summary>
        /// The log levels (Logging:LogLevel:Default, Logging:Console:LogLevel:Microsoft …), as ASP.NET Core reads them.
        /// A bad one stopped the host as it was built with "Configuration value 'verbose' is not supported", naming no setting.
        /// </summary>
        public void LogLevels()
        {
            var logging = configuration.GetSection("Logging");
            var sections = logging.GetChildren().Select(c => c.Key.Equals("LogLevel", StringComparison.OrdinalIgnoreCase) ? c : c.GetSection("LogLevel"));
            foreach (var level in sections.SelectMany(section => section.GetChildren()))
                if (!string.IsNullOrEmpty(level.Value) && !Enum.TryParse<LogLevel>(level.Value, ignoreCase: true, out _))
                    Bad(level.Path, level.Value, $"must be a log level: {string.Join(", ", Enum.GetNames<LogLevel>())}");
        }

        /// <summary>Where to listen: URLs separated by ';', as Kestrel takes them (http://+:8080, https://localhost:8443 …).</summary>
        public void Urls(string key)
        {
            if (Value(key) is not { } text) return;
            foreach (var url in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                BindingAddress? address;
                try
                {
                    address = BindingAddress.Parse(url);
                }
                catch (FormatException)
                {
                    address = null;
                }
                if (address is null || address.Scheme is not ("http" or "https") || address.PathBase.Length > 0
                    || (!address.IsUnixPipe && !address.IsNamedPipe && address.Port is < 0 or > 65535))
                {
                    // ASP.NET Core reads ASPNETCORE_URLS into the same setting: the operator may have set either.
                    Bad(key, url, "must be URLs such as http://localhost:8080 or http://+:8080 (http or https, a host, a port unless it is 80 or 443, no path), separated by ';'",
                        $"{key} or ASPNETCORE_{key.ToUpperInvariant()}");
                    return;
                }
            }
        }
    }
}

/// <summary>A setting has a value of the wrong type or out of range; the message names it, the value and what is allowed.</summary>
public sealed class SettingsException(string message) : InvalidOperationException(message);
