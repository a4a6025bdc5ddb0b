using IncidentMap.Api.Collections;
using IncidentMap.Api.Incidents;
using IncidentMap.Api.Problems;
using IncidentMap.Api.Security;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace IncidentMap.Api.Imports;

/// <summary>Settings of the Imports section (read and checked by <see cref="Hosting.Settings"/>).</summary>
public sealed class ImportSettings
{
    /// <summary>Imports (synchronous or jobs) this instance runs at once; more are answered 429.</summary>
    public int MaxConcurrent { get; set; } = 2;

    /// <summary>Largest upload accepted (the 8 MiB limit of single writes does not apply).</summary>
    public long MaxBytes { get; set; } = 16L * 1024 * 1024 * 1024;

    /// <summary>Connections one import writes its batches on in parallel. Most of an import's time is
    /// the database's (indexes, feed, history), and one connection keeps one core of it busy.</summary>
    public int Writers { get; set; } = 2;

    /// <summary>Rows per batch, each written in one transaction (<see cref="Importer.BatchSize"/>). Not read from
    /// configuration: tests make batches small, to act between them.</summary>
    public int BatchRows { get; set; } = Importer.BatchSize;

    /// <summary>
    /// How long one batch may take in the database: its statements' <c>statement_timeout</c>, and a
    /// little more on the client's side, where Npgsql would otherwise cut any command off after its
    /// default 30 s, breaking the connection. A batch waits for incidents other writers hold, and a
    /// batch of large shapes takes long to index. Not read from configuration: tests shorten it.
    /// </summary>
    public TimeSpan BatchTimeout { get; set; } = TimeSpan.FromMinutes(10);
}

/// <summary>Counts the imports running in this instance, so that a burst of uploads cannot swamp the database.</summary>
public sealed class ImportSlots(ImportSettings settings)
{
    private readonly SemaphoreSlim _slots = new(settings.MaxConcurrent);

    public bool TryTake() => _slots.Wait(0);

    public void Release() => _slots.Release();
}

/// <summary><c>POST /collections/incidents/imports</c> (write scope) and the jobs of long imports.</summary>
public static class ImportsApi
{
    public const string Path = "/collections/incidents/imports";

    public static IServiceCollection AddIncidentImports(this IServiceCollection services)
    {
        services.AddSingleton(sp => sp.GetRequiredService<Hosting.Settings>().Imports);
        services.AddSingleton<ImportSlots>();
        // As soon as the host begins stopping, not when the server has drained its requests (by then an
        // import would have had the whole shutdown timeout, and been cut off without a report).
        services.AddSingleton(sp =>
        {
            var stop = new ImportStop("send the same file again to complete the import");
            sp.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(() => stop.Request("because the server is shutting down"));
            return stop;
        });
        services.AddSingleton<Importer>();
        services.AddSingleton<ImportJobs>();
        services.AddHostedService(sp => sp.GetRequiredService<ImportJobs>());
        return services;
    }

    public static IEndpointRouteBuilder MapImports(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup(Path).WithTags("Imports").RequireAuthorization(SecuritySetup.WritePolicy);
        var maxBytes = app.ServiceProvider.GetRequiredService<ImportSettings>().MaxBytes;
        group.MapPost("", PostImport)
            // Routing sets the server's body limit from this, and request decompression counts against it.
            .WithMetadata(new BodySizeLimit(maxBytes))
            .WithName("importIncidents")
            .OwnParametersOnly()
            .WithSummary("Bulk import: CSV (ours or ACLED's export), a GeoJSON FeatureCollection or newline-delimited GeoJSON")
            .WithDescription("The body streams through: `text/csv`, `application/geo+json` or `application/json` (a FeatureCollection), " +
                             "`application/geo+json-seq`, `application/x-ndjson` or `application/ndjson` (one Feature per line), or any type with " +
                             "`format=csv|geojson|ndjson`. Every row is validated like a single write and upserted by (`source`, " +
                             "`external_id`): importing the same file again changes nothing. The answer counts inserted, updated, " +
                             "unchanged and rejected rows and lists every problem of the first 10,000 rejected rows in file order with its line " +
                             "(`rejected_rows_omitted` counts the rejected rows left out). With `async=true` " +
                             "(or `Prefer: respond-async`) the upload is stored and imported as a job: 202 with its Location to poll. " +
                             "A compressed body (`Content-Encoding: gzip` or `br`) is decompressed and checked to its end before any row is imported: " +
                             "one cut short or corrupt imports nothing.")
            .WithMetadata(
                new QueryParameterDoc("source", "Names the dataset (letters, digits, . _ : -; up to 100): an import updates only incidents an import of the same source created. Default acled for ACLED exports, else import."),
                new QueryParameterDoc("format", "Read the body as this format whatever its Content-Type.", Enum: ["csv", "geojson", "ndjson"]),
                new QueryParameterDoc("async", "true: store the upload and import it as a job (202 with its Location).", "boolean"))
            .WithMetadata(new HeaderParameterDoc("Content-Crs",
                $"The coordinate reference system of the file's coordinates: only <{Collections.Conformance.Crs84}> (lon/lat, the default); any other is a 400. " +
                "So is a FeatureCollection's crs member naming another than CRS84 or EPSG:4326 (read as lon/lat, as GeoJSON orders positions)."))
            .WithMetadata(new RequestBodyDoc("The file, streamed: CSV (ours or ACLED's), a GeoJSON FeatureCollection, or one GeoJSON Feature per line. Any Content-Type with format=.",
                Formats.MediaTypes))
            .Produces<ImportReport>(StatusCodes.Status200OK, "application/json")
            .Produces<ImportJobDoc>(StatusCodes.Status202Accepted, "application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .DeclaresPreconditionsWithoutETag()
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);
        group.MapMethods("/{id}", [HttpMethods.Get, HttpMethods.Head], GetJob)
            .WithName("getImportJob")
            .OwnParametersOnly()
            .DeclaresPreconditionsWithoutETag()
            .WithSummary("An import job: progress while it runs, the report when it is done")
            .Produces<ImportJobDoc>(StatusCodes.Status200OK, "application/json")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    internal static async Task<IResult> PostImport(HttpContext context, Importer importer, ImportJobs jobs, ImportSlots slots, ImportSettings settings,
        ImportStop stop, ILogger<Importer> logger)
    {
        var request = context.Request;
        var (format, formatProblem) = FormatOf(request);
        if (formatProblem is not null) return formatProblem;
        // As for single writes: coordinates said to be in another CRS would each be refused, or stored in the wrong place.
        if (JsonBody.ContentCrsProblem(request) is { } crsProblem) return crsProblem;
        // A Content-Encoding request decompression did not undo was refused before (ContentCodings).
        // Given, it must be a name: an empty source= was taken as none, and the rows stored under the default source.
        var source = request.Query.TryGetValue("source", out var named) ? named.ToString() : null;
        if (source is not null && !ImportOptions.SourcePattern.IsMatch(source))
            return Problem.BadParameter("source", ImportOptions.SourceRule);
        var asked = request.Query["async"].ToString() switch
        {
            "" or "false" => (bool?)false,
            "true" => true,
            _ => null,
        };
        if (asked is null) return Problem.BadParameter("async", $"'{request.Query["async"]}' is not true or false");
        // The imports collection exists and has no ETag: a failed If-Match or If-None-Match imports nothing and starts no
        // job, checked before a slot is taken or a byte of the upload read.
        if (Conditional.EvaluateChangeWithoutETag(context) is { } failed) return failed;
        var runAsJob = asked.Value
            || request.Headers["Prefer"].Any(p => p?.Contains("respond-async", StringComparison.OrdinalIgnoreCase) == true);

        if (!slots.TryTake())
        {
            context.Response.Headers.RetryAfter = "30";
            return Problem.Status(StatusCodes.Status429TooManyRequests, "Too many imports",
                $"{settings.MaxConcurrent} imports are already running; retry when one has finished.");
        }
        var options = new ImportOptions(format, source, context.User.KeyName() ?? "import");
        var ct = context.RequestAborted;

        if (runAsJob)
        {
            FileStream? spool = null;
            long id;
            try
            {
                // A shutdown ends the upload too, which could otherwise hold the server up for its whole shutdown timeout.
                using (var spooling = CancellationTokenSource.CreateLinkedTokenSource(ct, stop.Token))
                    spool = await ImportSpool.StoreAsync(request.Body, spooling.Token);
                id = await jobs.StartJobAsync(spool, options, slots.Release, ct);
            }
            catch (Exception e)
            {
                // Until the job has started, the spool (deleted as it closes) and the slot are this request's to give back.
                if (spool is not null) await spool.DisposeAsync();
                slots.Release();
                if (e is OperationCanceledException && stop.Token.IsCancellationRequested && !ct.IsCancellationRequested)
                    return ShuttingDown(context, "The server is shutting down; the upload was not stored: send it again once the server is back.");
                // The client is gone (an upload cut off before its Content-Length is closed without a response, see below).
                if (ct.IsCancellationRequested)
                    logger.LogWarning("Import job ({Source}, by {Actor}) not started: the client closed the connection before its upload was stored; nothing was imported",
                        source ?? "(default)", options.Actor);
                throw;
            }
            // How soon polling the job is worth it (its row is updated every ImportJobs.Heartbeat).
            context.Response.Headers.RetryAfter = "1";
            return TypedResults.Accepted($"{request.PathBase}{Path}/{id}", await jobs.GetAsync(id, ct));
        }

        ImportReport report;
        var tally = new ImportTally();
        var body = new UploadBody(context, settings.MaxBytes);
        Stream? spooled = null;
        try
        {
            if (context.Items.ContainsKey(CompleteDecompression.Encoded))
            {
                // A shutdown ends the upload too, as for a job's.
                using var spooling = CancellationTokenSource.CreateLinkedTokenSource(ct, stop.Token);
                try
                {
                    spooled = await CheckedFirst.SpoolAsync(body, spooling.Token);
                }
                catch (OperationCanceledException) when (stop.Token.IsCancellationRequested && !ct.IsCancellationRequested)
                {
                    return ShuttingDown(context, "The server is shutting down; nothing of the upload was imported: send it again once the server is back.");
                }
                catch (IOException e) when (e is not (IncompleteDataException or ImportBodyException) && !ct.IsCancellationRequested)
                {
                    // The server's own trouble (its temporary folder full), not the upload's.
                    logger.LogError(e, "Import ({Source}, by {Actor}): the compressed upload could not be stored to be checked", source ?? "(default)", options.Actor);
                    context.Response.Headers.RetryAfter = "60";
                    return Problem.Status(StatusCodes.Status503ServiceUnavailable, "Upload not stored",
                        "The server could not store the decompressed upload to check it before importing (its temporary folder may be full); nothing was imported. Send it again later, or uncompressed.");
                }
            }
            report = await importer.RunAsync(spooled ?? body, options, tally, ct, stop);
        }
        catch (Exception e) when (ct.IsCancellationRequested && e is OperationCanceledException or IOException or BadHttpRequestException)
        {
            // The client is gone, and no answer can reach it. Kestrel closes the connection of an upload that ends
            // before its Content-Length without a response (its client half-closed its side, or the connection
            // broke), aborting the request: the import is abandoned, as any whose client goes away. Said here,
            // or nobody would know what became of the rows.
            var cut = !context.Items.ContainsKey(CompleteDecompression.Encoded) && request.ContentLength is { } declared && body.BytesRead < declared
                ? $"the upload ended after {body.BytesRead} of the {declared} bytes its Content-Length declared (the client closed its side of the connection, or the connection broke)"
                : "the client closed the connection";
            logger.LogWarning("Import ({Source}, by {Actor}) abandoned without an answer: {Cut}; {Stored} rows of it were stored, {Rejected} rejected, " +
                              "after {Rows} rows read (the batches being written were rolled back); sending the file again completes it",
                source ?? "(default)", options.Actor, cut, tally.Inserted + tally.Updated + tally.Unchanged, tally.Rejected, tally.Rows);
            throw;
        }
        finally
        {
            if (spooled is not null) await spooled.DisposeAsync();
            slots.Release();
        }
        if (report.Error is { Field: ImportReport.StoppedField } stopped)
        {
            logger.LogWarning("Import ({Source}, by {Actor}) {Reason}", report.Source, options.Actor, stopped.Reason);
            var extensions = new Dictionary<string, object?>
            {
                ["errors"] = new[] { new FieldError(stopped.Field, stopped.Reason) }, ["line"] = stopped.Line, ["report"] = report,
            };
            if (tally.Failure is null) return ShuttingDown(context, $"The import {stopped.Reason}.", extensions);
            // The database failed a batch (ImportFailure): retrying later is worth it, as for any 503 of the database's.
            context.Response.Headers.RetryAfter = "30";
            return Problem.Status(StatusCodes.Status503ServiceUnavailable, "Import interrupted", $"The import {stopped.Reason}.", extensions: extensions);
        }
        if (report.Error is { } error)
        {
            // An upload the server stopped reading keeps the status the server gives that (413 past the limit, 408 too slow);
            // one in UTF-16 or UTF-32 is the 415 a single write's body in them is.
            var (status, title) = body.Refusal?.StatusCode switch
            {
                StatusCodes.Status413PayloadTooLarge => (StatusCodes.Status413PayloadTooLarge, "Request body too large"),
                StatusCodes.Status408RequestTimeout => (StatusCodes.Status408RequestTimeout, "Request timeout"),
                _ when error is { Field: "body", Reason: Importer.NotUtf8 } => (StatusCodes.Status415UnsupportedMediaType, "Unsupported charset"),
                _ => (StatusCodes.Status400BadRequest, "Unreadable import"),
            };
            // The report's problem is cut already (ImportProblem): the detail and errors repeat it, no more than that long.
            return Problem.Status(status, title,
                $"line {error.Line}: {error.Field} {error.Reason}." +
                (report.Rows > 0 ? $" The {report.Rows} row(s) before it were imported as the report says." : ""),
                extensions: new Dictionary<string, object?>
                {
                    ["errors"] = new[] { new FieldError(error.Field, error.Reason) }, ["line"] = error.Line, ["report"] = report,
                });
        }
        return TypedResults.Ok(report);
    }

    /// <summary>503 with Retry-After: a stopping service is usually back (restarted, redeployed) within half a minute.</summary>
    private static IResult ShuttingDown(HttpContext context, string detail, Dictionary<string, object?>? extensions = null)
    {
        context.Response.Headers.RetryAfter = "30";
        return Problem.Status(StatusCodes.Status503ServiceUnavailable, "Server shutting down", detail, extensions: extensions);
    }

    /// <summary>A job, its If-Match evaluated once it is found (a 404 is one whatever the conditions: RFC 9110 §13.2.1).</summary>
    internal static async Task<IResult> GetJob(HttpContext context, string id, ImportJobs jobs, CancellationToken ct) =>
        Incidents.IncidentsApi.TryParseId(id, out var jobId) && await jobs.GetAsync(jobId, ct) is { } job
            ? Conditional.EvaluateWithoutETag(context) ?? TypedResults.Ok(job)
            : Problem.NotFound($"There is no import job '{id}'.");

    /// <summary>The format named by <c>format=</c>, else by the Content-Type.</summary>
    private static (ImportFormat, IResult?) FormatOf(HttpRequest request)
    {
        var parsed = MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType);
        // Every import format is read as UTF-8; a file in another encoding would be stored garbled (format= too).
        if (parsed && contentType!.Charset is { Length: > 0 } charset && !Incidents.JsonBody.IsUtf8Charset(charset.Value))
            return (default, Problem.Status(StatusCodes.Status415UnsupportedMediaType, "Unsupported charset",
                $"Content-Type charset {FieldError.Quoted(charset.Value)} is not supported; imports are read as UTF-8 (convert the file, e.g. iconv " +
                // Named again only when short: a 20 KB charset came back whole twice in each of the detail and errors (40 KB).
                $"{(charset.Length <= FieldError.QuotedLength ? $"-f {charset} " : "")}-t UTF-8).", "Content-Type"));
        if (request.Query["format"].ToString() is { Length: > 0 } named)
            return Formats.TryParse(named, out var format)
                ? (format, null)
                : (default, Problem.BadParameter("format", $"'{named}' is not one of csv, geojson, ndjson"));
        if (parsed && Formats.FromMediaType(contentType!.MediaType.Value) is { } byType) return (byType, null);
        return (default, Problem.Status(StatusCodes.Status415UnsupportedMediaType, "Unsupported media type",
            $"Content-Type '{request.ContentType}' is not an import format; send {string.Join(", ", Formats.MediaTypes)}, " +
            "or name the format with format=csv|geojson|ndjson.", "Content-Type"));
    }

}

/// <summary>
/// The request body of a synchronous import. The server stops reading an upload past the body limit, or one that
/// arrives too slowly, with a <see cref="BadHttpRequestException"/>; that would end the import with a bare error
/// while the batches before it stay stored. Here it ends the import as a file that cannot be read on does
/// (<see cref="ImportBodyException"/>), with a report; <see cref="Refusal"/> keeps the server's status for the answer.
/// </summary>
internal sealed class UploadBody(HttpContext context, long maxBytes) : Stream
{
    private readonly Stream _inner = context.Request.Body;

    public BadHttpRequestException? Refusal { get; private set; }

    /// <summary>Bytes of the body read so far (compressed bodies: decompressed), to say where an upload that broke off ended.</summary>
    public long BytesRead { get; private set; }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        try
        {
            var read = await _inner.ReadAsync(buffer, ct);
            BytesRead += read;
            return read;
        }
        catch (BadHttpRequestException e)
        {
            Refusal = e;
            throw new ImportBodyException(Reason(e), e);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
        ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    private string Reason(BadHttpRequestException e)
    {
        switch (e.StatusCode)
        {
            case StatusCodes.Status413PayloadTooLarge:
                return $"is larger than the limit of {maxBytes} bytes (Imports__MaxBytes, counted after decompression), so the rest of it was not read; " +
                       "send the file in parts no larger than that";
            case StatusCodes.Status408RequestTimeout:
                var rate = context.Features.Get<Microsoft.AspNetCore.Server.Kestrel.Core.Features.IHttpMinRequestBodyDataRateFeature>()?.MinDataRate;
                return $"arrived too slowly (less than {rate?.BytesPerSecond ?? 240} bytes a second), so the rest of it was not read; send it faster, or compressed";
            default:
                return $"could not be read to its end ({e.Message}), so the rest of it was not read";
        }
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>The largest body an endpoint takes, for routing to give the server (Kestrel) and request decompression.</summary>
internal sealed record BodySizeLimit(long? MaxRequestBodySize) : Microsoft.AspNetCore.Http.Metadata.IRequestSizeLimitMetadata;

/// <summary>Names and media types of the import formats.</summary>
public static class Formats
{
    /// <summary>Each media type an import takes and the format it names: one table, so the declaration cannot drift from the reading.</summary>
    private static readonly (string MediaType, ImportFormat Format)[] ByMediaType =
    [
        ("text/csv", ImportFormat.Csv),
        ("application/geo+json", ImportFormat.GeoJson), ("application/json", ImportFormat.GeoJson),
        ("application/geo+json-seq", ImportFormat.NdJson), ("application/x-ndjson", ImportFormat.NdJson), ("application/ndjson", ImportFormat.NdJson),
    ];

    /// <summary>
    /// Every media type an import is read by (<see cref="FromMediaType"/>), as the OpenAPI document declares the body:
    /// any other Content-Type needs format=.
    /// </summary>
    public static readonly string[] MediaTypes = [.. ByMediaType.Select(m => m.MediaType)];

    public static bool TryParse(string name, out ImportFormat format)
    {
        ImportFormat? parsed = name.ToLowerInvariant() switch
        {
            "csv" => ImportFormat.Csv,
            "geojson" or "json" => ImportFormat.GeoJson,
            "ndjson" or "geojsonseq" or "geojsonl" or "jsonl" => ImportFormat.NdJson,
            _ => null,
        };
        format = parsed ?? default;
        return parsed is not null;
    }

    public static ImportFormat? FromMediaType(string? mediaType) =>
        ByMediaType.FirstOrDefault(m => string.Equals(m.MediaType, mediaType, StringComparison.OrdinalIgnoreCase)) is { MediaType: not null } found
            ? found.Format : null;

    /// <summary>The format a file's extension suggests (.csv, .geojson/.json, .ndjson/.geojsonl/.geojsons/.jsonl).</summary>
    public static ImportFormat? FromPath(string path) => System.IO.Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".csv" => ImportFormat.Csv,
        ".geojson" or ".json" => ImportFormat.GeoJson,
        ".ndjson" or ".geojsonl" or ".geojsons" or ".jsonl" => ImportFormat.NdJson,
        _ => null,
    };
}
