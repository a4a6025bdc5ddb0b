using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using IncidentMap.Api.Database;

namespace IncidentMap.Api.Imports;

/// <summary>
/// <c>import FILE [--format csv|geojson|ndjson] [--source NAME]</c>: the bulk import of the API from
/// the command line. A progress bar (percent of the file read, rows/s) goes to standard error; the
/// report (the API's JSON) to standard output. Exit code 0 when the file was read to the end
/// (rejected rows included), 1 when it could not be or the database failed a batch (the report says
/// how far it got, as for a signal), 2 for a usage error. The first SIGINT (Ctrl+C)
/// or SIGTERM stops the import at a batch boundary (<see cref="ImportStop"/>): the report says how far
/// it got, and the exit code is the shell's for that signal, 130 or 143; a second one ends the process at once.
/// </summary>
public static class ImportCommand
{
    private const string Usage = "usage: import FILE[.gz] [--format csv|geojson|ndjson] [--source NAME]";

    // Readable in a terminal: quotes and non-ASCII names as they are, not as \u escapes.
    private static readonly JsonSerializerOptions ReportJson = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static async Task<int> RunAsync(IServiceProvider services, string[] args)
    {
        if (args.Length == 0) return Fail($"import needs a FILE; {Usage}");
        if (args[0].StartsWith('-')) return Fail($"'{args[0]}' is not understood: the FILE comes first; {Usage}");
        var path = args[0];
        // file.csv.gz is file.csv, compressed.
        var compressed = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);
        var format = Formats.FromPath(compressed ? path[..^3] : path);
        string? source = null;
        // Each option once, as keys takes its own: the last of two --format was taken without a word.
        var given = new HashSet<string>();
        for (var i = 1; i < args.Length; i++)
        {
            if (args[i] is not ("--format" or "--source")) return Fail($"'{args[i]}' is not understood; {Usage}");
            if (!given.Add(args[i])) return Fail($"{args[i]} is given twice; {Usage}");
            if (i + 1 >= args.Length) return Fail($"{args[i]} needs a value ({(args[i] == "--format" ? "csv, geojson or ndjson" : "a source NAME")}); {Usage}");
            switch (args[i])
            {
                case "--format" when Formats.TryParse(args[i + 1], out var named): format = named; break;
                case "--format": return Fail($"--format '{args[i + 1]}' is not a format: csv, geojson or ndjson; {Usage}");
                case "--source" when ImportOptions.SourcePattern.IsMatch(args[i + 1]): source = args[i + 1]; break;
                case "--source": return Fail($"--source '{args[i + 1]}' {ImportOptions.SourceRule}");
            }
            i++;
        }
        // What the path is before what its name says: a directory without an extension was told its format could not be told.
        if (Directory.Exists(path)) return Fail($"{path} is a directory, not a file");
        if (!File.Exists(path)) return Fail($"{path}: no such file");
        if (format is null) return Fail($"cannot tell the format of {path} from its name; add --format csv|geojson|ndjson");
        // Opened once: a named pipe (mkfifo) opened a second time waits for a writer that has gone, and the command hung.
        await using var file = Open(path);
        Stream input = file;
        var magic = new byte[2];
        var read = await file.ReadAtLeastAsync(magic, 2, throwOnEndOfStream: false);
        if (compressed && !CompleteDecompression.IsGzip(magic.AsSpan(0, read)))
        {
            // Decompressing it anyway fails with .NET's "unsupported compression method", which says nothing useful.
            Console.Error.WriteLine($"{path}: not gzip-compressed (a .gz file starts with the bytes 1f 8b); compress it with gzip, or name it without .gz");
            return 1;
        }
        if (!compressed && CompleteDecompression.IsGzip(magic.AsSpan(0, read)))
        {
            // The importer's own words are the API's ("send Content-Encoding: gzip"), which a command cannot do.
            Console.Error.WriteLine($"{path}: looks gzip-compressed (it starts with the bytes 1f 8b); give the compressed file a name " +
                                    "ending in .gz (the command decompresses it), or decompress it first (gunzip)");
            return 1;
        }
        if (file.CanSeek) file.Position = 0;
        else input = new Replayed(magic.AsMemory(0, read), file);

        await services.GetRequiredService<Migrator>().MigrateStepAsync();
        // Rows with a place name and no coordinates are geocoded: the gazetteer is loaded (once) as the service loads it.
        var gazetteer = services.GetRequiredService<Hosting.Settings>().GazetteerPath;
        if (gazetteer.Length > 0) await services.GetRequiredService<Places.Gazetteer>().EnsureLoadedAsync(gazetteer, CancellationToken.None);
        // A compressed file is read through once before it is imported (CheckedFirst): one cut off or corrupt imports nothing.
        // A pipe cannot be read twice: its data is decompressed into a temporary file first.
        await using var body = !compressed ? input
            : file.CanSeek ? await CheckedFirst.ReadThroughAsync(new CheckedGzipStream(Open(path)), CancellationToken.None) ?? new CheckedGzipStream(file)
            : await CheckedFirst.SpoolAsync(new CheckedGzipStream(input), CancellationToken.None);
        var options = new ImportOptions(format.Value, source, $"cli:{Environment.UserName}");
        var tally = new ImportTally();
        var stop = new ImportStop("run the same command again to complete the import");
        var stoppedBy = 0;
        void Stop(PosixSignalContext signal)
        {
            var (cause, code) = signal.Signal == PosixSignal.SIGINT ? ("by SIGINT (Ctrl+C)", 130) : ("by SIGTERM", 143);
            // The first signal is cancelled, which keeps the runtime from ending the process; a second one is left to end it.
            if (Interlocked.CompareExchange(ref stoppedBy, code, 0) != 0) return;
            signal.Cancel = true;
            stop.Request(cause);
        }
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        var clock = Stopwatch.StartNew();
        var bar = new ProgressBar(tally, clock, sized: file.CanSeek);
        // How far through the file: bytes the importer took, or of a compressed file, how far it has been read.
        // Rows are stored behind the reader (a few batches per writer), so until the import has ended the
        // bar stays below 100 %, as a job's progress stays below 1. Of a pipe (/dev/stdin) the size is unknown: no bar.
        double? Read() => !file.CanSeek ? null : file.Length == 0 ? 1 : Math.Min(1, (double)(compressed ? file.Position : tally.BytesRead()) / file.Length);
        double Final(ImportReport ended) => ended.Error is null ? 1 : Math.Min(Read() ?? 0, 0.99);
        // The bar's last line, ended, before the importer logs how the import ended: the log line was glued onto it.
        tally.Ending = ended => bar.Final(Final(ended));
        var import = services.GetRequiredService<Importer>().RunAsync(body, options, tally, CancellationToken.None, stop);

        // On a terminal the bar redraws in place; in a log, a line every ten seconds.
        var interval = Console.IsErrorRedirected ? TimeSpan.FromSeconds(10) : TimeSpan.FromMilliseconds(250);
        while (await Task.WhenAny(import, Task.Delay(interval)) != import)
            bar.Draw(Math.Min(Read() ?? 0, 0.99));
        var report = await import;
        bar.Final(Final(report));

        Console.WriteLine(JsonSerializer.Serialize(report, ReportJson));
        if (report.Error is { Field: ImportReport.StoppedField } stopped)
        {
            await Console.Error.WriteLineAsync($"{path}:{stopped.Line}: import {stopped.Reason}");
            // Stopped by a signal, or ended by a batch the database failed (ImportFailure).
            return tally.Failure is null ? stoppedBy : 1;
        }
        if (report.Error is { } error)
        {
            await Console.Error.WriteLineAsync($"{path}:{error.Line}: {error.Field} {error.Reason}" + (report.Rows > 0 ? "; the rows before it were imported" : ""));
            return 1;
        }
        return 0;
    }

    /// <summary>The bytes already read from a pipe to tell its format, then the rest of the pipe.</summary>
    private sealed class Replayed(ReadOnlyMemory<byte> first, Stream rest) : ReadOnlyStream
    {
        private ReadOnlyMemory<byte> _first = first;

        public override int Read(Span<byte> buffer)
        {
            if (_first.IsEmpty) return rest.Read(buffer);
            var n = Math.Min(buffer.Length, _first.Length);
            _first.Span[..n].CopyTo(buffer);
            _first = _first[n..];
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) =>
            _first.IsEmpty ? rest.ReadAsync(buffer, ct) : ValueTask.FromResult(Read(buffer.Span));
    }

    private static FileStream Open(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);

    /// <summary>
    /// The progress line on standard error. On a terminal it is redrawn in place, fitted to the terminal's width (a line
    /// longer than that wrapped, and each redraw added a line) and cleared to its end (ESC[K: shorter figures left old
    /// characters behind, 00:00:032), and its last drawing ends the line, before the importer logs anything after it.
    /// In a log, each drawing is a line.
    /// </summary>
    /// <param name="sized">Whether the file's size is known; a pipe's is not, and its line has no bar.</param>
    internal sealed class ProgressBar(ImportTally tally, Stopwatch clock, bool sized, TextWriter? writer = null, int? terminalWidth = null)
    {
        private readonly Lock _gate = new();
        private readonly TextWriter _writer = writer ?? Console.Error;
        private readonly int? _width = writer is null ? (Console.IsErrorRedirected ? null : TerminalWidth()) : terminalWidth;
        private bool _ended;

        public void Draw(double fraction) => Write(fraction, final: false);

        /// <summary>The last drawing; any after it (the command's own, after the importer's) is left out.</summary>
        public void Final(double fraction) => Write(fraction, final: true);

        private void Write(double fraction, bool final)
        {
            lock (_gate)
            {
                if (_ended) return;
                _ended = final;
                var line = Line(tally.Rows, tally.Inserted, tally.Updated, tally.Unchanged, tally.Rejected, fraction, clock.Elapsed, sized, _width ?? int.MaxValue);
                if (_width is null) _writer.WriteLine(line);
                else _writer.Write("\r" + line + "\u001b[K" + (final ? "\n" : ""));
                _writer.Flush();
            }
        }

        private static int TerminalWidth()
        {
            try
            {
                return Console.WindowWidth is > 0 and var width ? width : 80;
            }
            catch (Exception e) when (e is IOException or PlatformNotSupportedException)
            {
                return 80;
            }
        }
    }

    /// <summary>
    /// The progress line at its longest that fits in <paramref name="width"/> less one column (a line reaching the last
    /// column wraps on some terminals): a shorter bar, then short names, then fewer figures, then cut.
    /// </summary>
    internal static string Line(long rows, long inserted, long updated, long unchanged, long rejected, double fraction, TimeSpan elapsed, bool sized, int width)
    {
        var rate = rows / Math.Max(elapsed.TotalSeconds, 0.001);
        var time = elapsed.ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture);
        string Bar(int length)
        {
            var filled = (int)(fraction * length);
            return sized ? $"[{new string('#', filled)}{new string('-', length - filled)}] " : "";
        }
        var percent = sized ? $"{fraction,4:P0} " : "";
        string[] candidates =
        [
            $"{Bar(30)}{percent}{rows:N0} rows {rate:N0} rows/s inserted {inserted:N0} updated {updated:N0} unchanged {unchanged:N0} rejected {rejected:N0} {time}",
            $"{Bar(10)}{percent}{rows:N0} rows {rate:N0} rows/s inserted {inserted:N0} updated {updated:N0} unchanged {unchanged:N0} rejected {rejected:N0} {time}",
            $"{Bar(10)}{percent}{rows:N0} rows {rate:N0}/s ins {inserted:N0} upd {updated:N0} unch {unchanged:N0} rej {rejected:N0} {time}",
            $"{percent}{rows:N0} rows {rate:N0}/s ins {inserted:N0} upd {updated:N0} unch {unchanged:N0} rej {rejected:N0} {time}",
            $"{percent}{rows:N0} rows rej {rejected:N0} {time}",
        ];
        var fits = Math.Max(width - 1, 1);
        return candidates.FirstOrDefault(c => c.Length <= fits) ?? candidates[^1][..fits];
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine(message);
        return 2;
    }
}
