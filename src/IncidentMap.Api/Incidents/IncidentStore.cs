using Dapper;
using IncidentMap.Api.Collections;
using IncidentMap.Api.Database;
using IncidentMap.Api.Problems;
using IncidentMap.Api.Querying;
using NetTopologySuite.Geometries;
using Npgsql;

namespace IncidentMap.Api.Incidents;

/// <summary>What a write did.</summary>
public abstract record WriteOutcome
{
    public sealed record Stored(long Id, int Version, string Feature) : WriteOutcome;
    public sealed record Skipped(long ExistingId) : WriteOutcome;
    public sealed record Invalid(IReadOnlyList<FieldError> Errors) : WriteOutcome;
    public sealed record NotFound : WriteOutcome;
    /// <summary>The current version is not one the write's <paramref name="Header"/> (If-Match or If-None-Match) allows.</summary>
    public sealed record VersionMismatch(int CurrentVersion, string Header = VersionCondition.IfMatch) : WriteOutcome;
    public sealed record DuplicateExternalId(string ExternalId) : WriteOutcome;
    /// <summary>An Idempotency-Key seen before with the same body: the first answer, again.</summary>
    public sealed record Replayed(long Id, int Version, string Feature) : WriteOutcome;
    /// <summary>The Idempotency-Key is still held, or was used with another request (<see cref="IdempotencyKeys.Refusal"/>).</summary>
    public sealed record IdempotencyRefused(IdempotencyKeys.Earlier Earlier) : WriteOutcome;
}

/// <summary>
/// What a conditional write asks of the incident's current version (RFC 9110 §13.1.1–2): one of If-Match's
/// (<paramref name="Match"/>; null for * or no If-Match) and none of If-None-Match's (<paramref name="NoneMatch"/>;
/// <paramref name="NoneMatchAny"/> for *, which an existing incident never passes).
/// </summary>
public sealed record VersionCondition(IReadOnlyCollection<int>? Match, IReadOnlyCollection<int>? NoneMatch = null, bool NoneMatchAny = false)
{
    public const string IfMatch = "If-Match";
    public const string IfNoneMatch = "If-None-Match";

    public static VersionCondition Exactly(int version) => new([version]);

    /// <summary>The header that refuses <paramref name="current"/>, or null when the write may go ahead.</summary>
    public string? Refuses(int current) =>
        Match is not null && !Match.Contains(current) ? IfMatch
        : NoneMatchAny || NoneMatch?.Contains(current) == true ? IfNoneMatch
        : null;
}

/// <summary>Who writes (the API key's name, recorded in history) and, for creates, the Idempotency-Key.</summary>
public sealed record WriteContext(string? Actor, IdempotencyRequest? Idempotency = null)
{
    public static readonly WriteContext System = new("system");
}

/// <summary>
/// Incident writes. Each runs in one transaction; the stored Feature is read back through the same
/// SQL builder as every other read, so a write answers with exactly what a later GET returns.
/// Writes are never retried here: a retry of a statement whose commit was acknowledged late would
/// duplicate the incident.
/// </summary>
public sealed class IncidentStore(NpgsqlDataSource dataSource, IncidentReader reader, DataVersion dataVersion, DatabaseResilience resilience)
{
    private const string Columns = """
        title, summary, event_type, sub_event_type, occurred_at, time_precision, location_name, admin1, admin2,
        admin3, country, geo_precision, fatalities_min, fatalities_max, injured_min, injured_max, actors, claimed_by,
        sources, status, tags, external_id, geom, place_id, derived_fields
        """;

    private const string Values = """
        @Title, @Summary, @EventType, @SubEventType, @OccurredAt, @TimePrecision, @LocationName, @Admin1, @Admin2,
        @Admin3, @Country, @GeoPrecision, @FatalitiesMin, @FatalitiesMax, @InjuredMin, @InjuredMax, @Actors, @ClaimedBy,
        @Sources::jsonb, @Status, @Tags, @ExternalId, @Geometry, @PlaceId, @DerivedFields
        """;

    /// <summary>Stores a new incident. With <paramref name="skipExisting"/>, an incident whose external_id
    /// is already stored is left alone (sample data and re-imports are idempotent).</summary>
    public Task<WriteOutcome> CreateAsync(IncidentDraft draft, WriteContext context, CancellationToken ct, bool skipExisting = false) =>
        resilience.WriteAsync(token => CreateCoreAsync(draft, context, skipExisting, token), ct);

    private async Task<WriteOutcome> CreateCoreAsync(IncidentDraft draft, WriteContext context, bool skipExisting, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await BeginAsync(connection, context, ct);
        if (await GeometryProblemAsync(connection, draft.Geometry, ct) is { } invalid) return invalid;
        if (context.Idempotency is { } idempotency && await ClaimAsync(connection, tx, idempotency, ct) is { } earlier) return earlier;

        var conflict = skipExisting
            ? "ON CONFLICT (external_id) WHERE external_id IS NOT NULL AND deleted_at IS NULL DO NOTHING"
            : "";
        try
        {
            // The key is looked up before the insert, which ON CONFLICT alone would not: its DO NOTHING
            // still draws an id, so each start that seeded 50 sample incidents already there used up 50 ids.
            // ON CONFLICT stays for a writer that stores the key in between.
            async Task<long?> ExistingAsync() => await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
                "SELECT id FROM incidents WHERE external_id = @ExternalId AND deleted_at IS NULL",
                new { draft.ExternalId }, tx, cancellationToken: ct));
            if (skipExisting && draft.ExternalId is not null && await ExistingAsync() is { } present)
                return new WriteOutcome.Skipped(present);
            var id = await connection.QuerySingleOrDefaultAsync<long?>(new CommandDefinition(
                $"INSERT INTO incidents ({Columns}) VALUES ({Values}) {conflict} RETURNING id",
                Parameters(draft), tx, cancellationToken: ct));
            if (id is null) return new WriteOutcome.Skipped((await ExistingAsync())!.Value);
            var stored = await reader.GetFeatureAsync(id.Value, ct, connection);
            if (context.Idempotency is { } key)
                await IdempotencyKeys.StoreAsync(connection, tx, key, $"/collections/incidents/items/{id}", $"v{stored!.Value.Version}", stored.Value.Feature, ct);
            await tx.CommitAsync(ct);
            dataVersion.Advance();
            return new WriteOutcome.Stored(id.Value, stored!.Value.Version, stored.Value.Feature);
        }
        catch (PostgresException e) when (Translate(e, draft) is { } outcome)
        {
            return outcome;
        }
    }

    /// <summary>Replaces every property and the geometry; bumps the version.</summary>
    public Task<WriteOutcome> ReplaceAsync(long id, IncidentDraft draft, VersionCondition condition, WriteContext context, CancellationToken ct) =>
        resilience.WriteAsync(token => ReplaceCoreAsync(id, draft, condition, context, token), ct);

    private async Task<WriteOutcome> ReplaceCoreAsync(long id, IncidentDraft draft, VersionCondition condition, WriteContext context, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await BeginAsync(connection, context, ct);
        if (await GeometryProblemAsync(connection, draft.Geometry, ct) is { } invalid) return invalid;
        if (await LockAsync(connection, tx, id, condition, ct) is { } refused) return refused;

        try
        {
            var parameters = Parameters(draft);
            parameters.Add("Id", id);
            // A write that changes nothing (the same values again, or only server-owned members such
            // as version) leaves the incident as it is: no new version, revision or feed event, as a
            // re-import of an unchanged row does.
            var changed = await connection.ExecuteAsync(new CommandDefinition($"""
                UPDATE incidents SET ({Columns}) = ({Values}),
                       updated_at = now(), version = version + 1
                WHERE id = @Id AND ({Columns}) IS DISTINCT FROM ({Values})
                """, parameters, tx, cancellationToken: ct));
            var stored = await reader.GetFeatureAsync(id, ct, connection);
            await tx.CommitAsync(ct);
            if (changed > 0) dataVersion.Advance();
            return new WriteOutcome.Stored(id, stored!.Value.Version, stored.Value.Feature);
        }
        catch (PostgresException e) when (Translate(e, draft) is { } outcome)
        {
            return outcome;
        }
    }

    /// <summary>Marks the incident deleted: it leaves every read, the row stays for the change feed.</summary>
    public Task<WriteOutcome> DeleteAsync(long id, VersionCondition condition, WriteContext context, CancellationToken ct) =>
        resilience.WriteAsync(token => DeleteCoreAsync(id, condition, context, token), ct);

    private async Task<WriteOutcome> DeleteCoreAsync(long id, VersionCondition condition, WriteContext context, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await BeginAsync(connection, context, ct);
        if (await LockAsync(connection, tx, id, condition, ct) is { } refused) return refused;
        var version = await connection.ExecuteScalarAsync<int>(new CommandDefinition("""
            UPDATE incidents SET deleted_at = now(), updated_at = now(), version = version + 1
            WHERE id = @id RETURNING version
            """, new { id }, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
        dataVersion.Advance();
        return new WriteOutcome.Stored(id, version, "");
    }

    /// <summary>Opens the write transaction and names the writer for the history trigger.</summary>
    private static async Task<NpgsqlTransaction> BeginAsync(NpgsqlConnection connection, WriteContext context, CancellationToken ct)
    {
        var tx = await connection.BeginTransactionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(
            "SELECT set_config('incidentmap.actor', @actor, true)", new { actor = context.Actor ?? "" }, tx, cancellationToken: ct));
        return tx;
    }

    /// <summary>Claims the Idempotency-Key (<see cref="IdempotencyKeys.ClaimAsync"/>): null when it is this create's.</summary>
    private static async Task<WriteOutcome?> ClaimAsync(NpgsqlConnection connection, NpgsqlTransaction tx, IdempotencyRequest key, CancellationToken ct) =>
        await IdempotencyKeys.ClaimAsync(connection, tx, key, ct) switch
        {
            null => null,
            IdempotencyKeys.Earlier.Answer answer => new WriteOutcome.Replayed(answer.Id,
                int.Parse(answer.ETag![1..], System.Globalization.CultureInfo.InvariantCulture), answer.Body),
            var refused => new WriteOutcome.IdempotencyRefused(refused),
        };

    /// <summary>Row-locks the live incident so concurrent writers serialise; checks the write's condition on its version.</summary>
    private static async Task<WriteOutcome?> LockAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long id, VersionCondition condition, CancellationToken ct)
    {
        var current = await connection.ExecuteScalarAsync<int?>(new CommandDefinition(
            "SELECT version FROM incidents WHERE id = @id AND deleted_at IS NULL FOR UPDATE",
            new { id }, tx, cancellationToken: ct));
        if (current is null) return new WriteOutcome.NotFound();
        return condition.Refuses(current.Value) is { } header ? new WriteOutcome.VersionMismatch(current.Value, header) : null;
    }

    /// <summary>PostGIS's own verdict on validity (self-intersections, ring orientation problems …).</summary>
    private static async Task<WriteOutcome?> GeometryProblemAsync(NpgsqlConnection connection, Geometry geometry, CancellationToken ct)
    {
        if (geometry is Point) return null;
        var reason = await connection.ExecuteScalarAsync<string>(new CommandDefinition(
            "SELECT ST_IsValidReason(@geometry)", new { geometry }, cancellationToken: ct));
        return reason == "Valid Geometry"
            ? null
            : new WriteOutcome.Invalid([new FieldError("geometry", $"is not valid: {reason}")]);
    }

    private static WriteOutcome? Translate(PostgresException e, IncidentDraft draft) => e.SqlState switch
    {
        PostgresErrorCodes.UniqueViolation when e.ConstraintName == "incidents_external_id_key" =>
            new WriteOutcome.DuplicateExternalId(draft.ExternalId!),
        // Validation mirrors every CHECK; should one still fire, it is the client's data, not a 500.
        PostgresErrorCodes.CheckViolation =>
            new WriteOutcome.Invalid([new FieldError("properties", $"violates {e.ConstraintName}")]),
        _ => null,
    };

    private static DynamicParameters Parameters(IncidentDraft draft) => new(draft);
}
