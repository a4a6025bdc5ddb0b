using System.Data;
using System.Data.Common;
using Dapper;
using IncidentMap.Api.Database;
using IncidentMap.Api.Security;
using Npgsql;

namespace IncidentMap.Api.Querying;

/// <summary>
/// Runs compiled incident queries. Opening the connection, executing and fetching the first row
/// happen under the read-retry pipeline, before a response has started; after that rows stream and
/// a fault aborts the response rather than silently truncating it. A request's short reads first take
/// a place among its client's connections of the pool (<see cref="ConnectionShares"/>).
/// </summary>
/// <param name="http">The current request, whose client short reads count against; without it nothing is counted.</param>
/// <param name="limits">RateLimits:ConnectionsPerClient; without it each client may hold all of a pool but one connection.</param>
public sealed class IncidentReader(
    [FromKeyedServices(DatabaseServiceCollectionExtensions.ReadsKey)] NpgsqlDataSource preparedReads,
    [FromKeyedServices(DatabaseServiceCollectionExtensions.AdHocReadsKey)] NpgsqlDataSource adHocReads,
    NpgsqlDataSource longReads,
    DatabaseResilience resilience,
    IHttpContextAccessor? http = null,
    RateLimitOptions? limits = null)
{
    /// <summary>The pool for a short read: prepared when its plan does not depend on the parameters' values.</summary>
    private NpgsqlDataSource Short(bool stablePlan) => stablePlan ? preparedReads : adHocReads;

    private readonly ConnectionShares _preparedShares =
        ConnectionShares.For(preparedReads, DatabaseServiceCollectionExtensions.ReadsKey, limits?.ConnectionsPerClient ?? 0, http);

    private readonly ConnectionShares _adHocShares =
        ConnectionShares.For(adHocReads, DatabaseServiceCollectionExtensions.AdHocReadsKey, limits?.ConnectionsPerClient ?? 0, http);

    /// <summary>Each client's share of the pool <see cref="Short"/> picks.</summary>
    internal ConnectionShares Shares(bool stablePlan) => stablePlan ? _preparedShares : _adHocShares;

    /// <summary>Exports may outlive the default statement_timeout: a million rows to a slow client take a while.</summary>
    public static readonly TimeSpan ExportTimeout = TimeSpan.FromMinutes(15);

    /// <summary>Pages up to this many rows are short reads; larger ones may be held open by a slow client.</summary>
    public const int ShortReadRows = 1000;

    /// <summary>Pages being read now (<see cref="OpenPageAsync"/> until the rows are disposed).</summary>
    private int _pagesInFlight;

    /// <summary>
    /// A page of at most <see cref="ShortReadRows"/> rows. With at least as many pages in flight as
    /// cores, the cores are busy and the page is computed whole before it is sent
    /// (<see cref="IncidentSqlBuilder.Whole"/>), which spares the many wake-ups of reading it as it
    /// streams; otherwise it streams, and rendering overlaps the query.
    /// </summary>
    public async Task<RowStream> OpenPageAsync(SqlQuery page, CancellationToken ct)
    {
        var busy = Interlocked.Increment(ref _pagesInFlight) >= Environment.ProcessorCount;
        try
        {
            var rows = await OpenAsync(busy ? IncidentSqlBuilder.Whole(page) : page, ct);
            rows.Whole = busy;
            rows.WhenDisposed(() => Interlocked.Decrement(ref _pagesInFlight));
            return rows;
        }
        catch
        {
            Interlocked.Decrement(ref _pagesInFlight);
            throw;
        }
    }

    /// <param name="longRead">
    /// Whether the rows may take long to deliver (exports, large pages): such reads take connections
    /// from the service's main pool, not from the few that serve pages and tiles.
    /// </param>
    /// <param name="statementTimeout">The statement's own statement_timeout, for the whole stream (exports: <see cref="ExportTimeout"/>).</param>
    /// <param name="firstRowTimeout">
    /// How long the statement may take to its first row, or to finding none: past it the statement is
    /// cancelled and <see cref="FirstRowTimeoutException"/> thrown. Exports get the service's statement
    /// timeout here: 15 minutes suit streaming a million rows, not a scan that finds nothing for 15
    /// minutes while it holds a connection. The first row is read before a response starts, so the
    /// client is still answered with a problem; once it is read, the rows stream under the long timeout.
    /// </param>
    public async Task<RowStream> OpenAsync(SqlQuery query, CancellationToken ct, bool longRead = false, TimeSpan? statementTimeout = null,
        TimeSpan? firstRowTimeout = null)
    {
        // Long reads use the main pool, which has no per-client share (exports have their own limit).
        var share = longRead ? null : await Shares(query.StablePlan).EnterAsync(ct);
        try
        {
            var rows = await OpenOnPoolAsync(query, ct, longRead, statementTimeout, firstRowTimeout);
            rows.Share = share;
            return rows;
        }
        catch
        {
            share?.Exit();
            throw;
        }
    }

    private async Task<RowStream> OpenOnPoolAsync(SqlQuery query, CancellationToken ct, bool longRead, TimeSpan? statementTimeout,
        TimeSpan? firstRowTimeout)
    {
        return await resilience.ExecuteAsync(async token =>
        {
            var connection = await (longRead ? longReads : Short(query.StablePlan)).OpenConnectionAsync(token);
            NpgsqlTransaction? transaction = null;
            // Npgsql cancels the statement on the server when this fires, and the next read throws.
            using var firstRow = CancellationTokenSource.CreateLinkedTokenSource(token);
            try
            {
                if (firstRowTimeout is { } limit) firstRow.CancelAfter(limit);
                if (statementTimeout is { } timeout)
                {
                    transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, firstRow.Token);
                    await connection.ExecuteAsync(new CommandDefinition(
                        $"SET LOCAL statement_timeout = {(long)timeout.TotalMilliseconds}", transaction: transaction, cancellationToken: firstRow.Token));
                }
                // Not SequentialAccess: ReadAsync then buffers each whole row, so rendering it never
                // blocks a thread on a synchronous socket read. A row is at most a few MB (100k vertices).
                var reader = await connection.ExecuteReaderAsync(new CommandDefinition(
                    query.Sql, query.Parameters, transaction, commandTimeout: 0, cancellationToken: firstRow.Token));
                var hasRow = await reader.ReadAsync(firstRow.Token);
                firstRow.CancelAfter(Timeout.Infinite);
                // Fired as the row came in: the statement is being cancelled, and the next read would fail
                // after the response had started.
                firstRow.Token.ThrowIfCancellationRequested();
                return new RowStream(connection, reader, hasRow) { Long = longRead };
            }
            catch (Exception error)
            {
                if (!longRead) await ForgetPreparedAsync(connection, transaction, error);
                await connection.DisposeAsync();
                if (error is OperationCanceledException && firstRow.IsCancellationRequested && !token.IsCancellationRequested)
                    throw new FirstRowTimeoutException(firstRowTimeout!.Value, error);
                throw;
            }
        }, ct);
    }

    /// <summary>The feature JSON (coordinates as stored) and version of one live incident, or null.</summary>
    public async Task<(string Feature, int Version)?> GetFeatureAsync(long id, CancellationToken ct, NpgsqlConnection? connection = null)
    {
        var single = new IncidentQuery { Id = id, Limit = 1, Precision = IncidentQuery.StoredPrecision };
        var render = new IncidentRowWriter(single);
        // By primary key: one plan for every id.
        var sql = IncidentSqlBuilder.Build(single, IncidentSqlBuilder.Projection(single) + ", i.version") with { StablePlan = true };
        (string, int) Read(DbDataReader row) => (render.FeatureJson(row), row.GetInt32(render.ColumnCount));
        if (connection is not null)
        {
            await using var reader = await connection.ExecuteReaderAsync(new CommandDefinition(sql.Sql, sql.Parameters, cancellationToken: ct));
            return await reader.ReadAsync(ct) ? Read(reader) : null;
        }
        await using var rows = await OpenAsync(sql, ct);
        return rows.HasRow ? Read(rows.Reader) : null;
    }

    /// <summary>One value (a tile, a count) under the read-retry pipeline.</summary>
    /// <param name="stablePlan">Whether one plan suits every parameter value (tiles), so the statement may be prepared.</param>
    public Task<T?> ScalarAsync<T>(string sql, DynamicParameters parameters, CancellationToken ct, bool stablePlan = false) =>
        OnShortConnectionAsync(stablePlan, (connection, token) =>
            connection.ExecuteScalarAsync<T>(new CommandDefinition(sql, parameters, cancellationToken: token)), ct);

    /// <summary>A small, bounded result read whole under the read-retry pipeline, each row mapped by <paramref name="map"/>.</summary>
    public async Task<List<T>> ListAsync<T>(string sql, DynamicParameters parameters, Func<DbDataReader, T> map, CancellationToken ct,
        bool stablePlan = false) =>
        await OnShortConnectionAsync(stablePlan, async (connection, token) =>
        {
            await using var reader = await connection.ExecuteReaderAsync(new CommandDefinition(sql, parameters, cancellationToken: token));
            var rows = new List<T>();
            while (await reader.ReadAsync(token)) rows.Add(map(reader));
            return rows;
        }, ct);

    /// <summary>
    /// Several statements of one bounded read on one short connection under the read-retry pipeline (hexagon bins: the
    /// points, then their features); <paramref name="read"/> starts over on a retry.
    /// </summary>
    public Task<T> OnConnectionAsync<T>(Func<NpgsqlConnection, CancellationToken, Task<T>> read, CancellationToken ct) =>
        OnShortConnectionAsync(stablePlan: false, read, ct);

    /// <summary>One short read under the read-retry pipeline, on a connection of the pool its plan calls for.</summary>
    private async Task<T> OnShortConnectionAsync<T>(bool stablePlan, Func<NpgsqlConnection, CancellationToken, Task<T>> read, CancellationToken ct)
    {
        var share = await Shares(stablePlan).EnterAsync(ct);
        try
        {
            return await resilience.ExecuteAsync(async token =>
            {
                await using var connection = await Short(stablePlan).OpenConnectionAsync(token);
                try
                {
                    return await read(connection, token);
                }
                catch (Exception error)
                {
                    await ForgetPreparedAsync(connection, null, error);
                    throw;
                }
            }, ct);
        }
        finally
        {
            // The connection is back in the pool: the client's next read may take it.
            share?.Exit();
        }
    }

    /// <summary>
    /// Npgsql 10.0.3 (npgsql/npgsql#6391): when the run that auto-prepares a statement fails at Bind
    /// (a parameter PostgreSQL refuses, such as text holding NUL), the connection keeps the statement
    /// as prepared but without its row description, and the statement's next run on that connection
    /// fails with "Received unexpected backend message DataRow": a 500 for whichever request comes
    /// next. So after a server error on a connection of either short-read pool, the connection forgets its
    /// prepared statements (DEALLOCATE ALL) before it goes back to the pool. Rare, and cheap: the
    /// statements are prepared again on their next two runs.
    /// </summary>
    private static async Task ForgetPreparedAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, Exception error)
    {
        // A statement cancelled (the client went away, a first-row timeout) comes as an OperationCanceledException
        // around PostgreSQL's error, and fails the run that prepares it at Bind too.
        if (error is not PostgresException && error.InnerException is not PostgresException || connection.FullState != ConnectionState.Open) return;
        try
        {
            if (transaction is not null) await transaction.RollbackAsync();
            connection.UnprepareAll();
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
        {
            // The connection broke or is still busy: Npgsql discards a broken one rather than pool it,
            // and the caller's error is the one to report.
        }
    }

    /// <summary>A bounded result (clusters, bins, stats) read whole under the read-retry pipeline, mapped by Dapper.</summary>
    public Task<List<T>> ListAsync<T>(string sql, DynamicParameters parameters, CancellationToken ct) =>
        OnShortConnectionAsync(stablePlan: false, async (connection, token) =>
            (await connection.QueryAsync<T>(new CommandDefinition(sql, parameters, cancellationToken: token))).AsList(), ct);
}

/// <summary>
/// A statement found no first row (nor that there was none) within the time <see cref="IncidentReader.OpenAsync"/>
/// allowed it. Not a <see cref="TimeoutException"/>: the circuit breaker counts those as the database's faults,
/// and a slow query is the request's.
/// </summary>
public sealed class FirstRowTimeoutException(TimeSpan limit, Exception inner)
    : Exception($"no first row within {limit.TotalSeconds:0.###} s", inner)
{
    public TimeSpan Limit { get; } = limit;
}

public sealed class RowStream(NpgsqlConnection connection, DbDataReader reader, bool hasRow) : IAsyncDisposable
{
    /// <summary>
    /// The rows. Npgsql's own reader rather than Dapper's wrapper around it, which adds a call to every
    /// column read; the wrapper is still what gets disposed, as it also disposes the command.
    /// </summary>
    public DbDataReader Reader { get; } = reader is IWrappedDataReader { Reader: DbDataReader inner } ? inner : reader;

    /// <summary>Whether the reader is positioned on a row.</summary>
    public bool HasRow { get; private set; } = hasRow;

    public async Task<bool> ReadAsync(CancellationToken ct) => HasRow = await Reader.ReadAsync(ct);

    /// <summary>Whether the page was computed whole before it was sent (<see cref="IncidentReader.OpenPageAsync"/>).</summary>
    internal bool Whole { get; set; }

    private Action? _onDispose;

    /// <summary>The client's place in the pool (<see cref="ConnectionShares"/>), given back with the connection.</summary>
    internal ConnectionShares.Share? Share { get; set; }

    /// <summary>Runs <paramref name="action"/> once, when the rows are disposed.</summary>
    internal void WhenDisposed(Action action) => _onDispose = action;

    private int _disposed;

    /// <summary>
    /// Gives the connection back, once: a second call must not reach the reader, which Npgsql hands
    /// to the connection's next user.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        try
        {
            try
            {
                await reader.DisposeAsync();
            }
            finally
            {
                await connection.DisposeAsync();
            }
        }
        finally
        {
            Share?.Exit();
            _onDispose?.Invoke();
        }
    }

    /// <summary>A long read (<see cref="IncidentReader.OpenAsync"/>'s longRead: an export, a large page), whose rows may be many.</summary>
    internal bool Long { get; init; }

    /// <summary>
    /// Gives the connection back without the rows not read yet (a HEAD needs only to know that they come). Disposing
    /// the reader reads every row left and drops it: for a long read still streaming, the statement is cancelled
    /// first, so a HEAD of an export does not pull the whole collection from the database. A short page (at most
    /// <see cref="IncidentReader.ShortReadRows"/> rows, maybe computed whole) is cheaper read to its end than a
    /// cancel request, which opens a connection of its own to the server.
    /// </summary>
    public async ValueTask AbandonAsync()
    {
        if (Long && HasRow && Volatile.Read(ref _disposed) == 0 && reader is IWrappedDataReader { Command: NpgsqlCommand command })
        {
            try
            {
                // Cancel opens a connection of its own and waits for the server synchronously: off the request's thread (review).
                await Task.Run(command.Cancel);
            }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException or System.Net.Sockets.SocketException)
            {
                // Not cancelled: disposing reads the rest, as before.
            }
        }
        try
        {
            await DisposeAsync();
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException)
        {
            // The cancelled statement's error (57014), or a connection lost after the first row: the HEAD's answer is
            // already known, and Npgsql does not pool a broken connection.
        }
    }
}
