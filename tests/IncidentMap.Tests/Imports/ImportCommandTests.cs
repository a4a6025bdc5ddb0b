using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Tests.Infrastructure;
using Npgsql;
using static IncidentMap.Tests.Imports.ImportHelpers;

namespace IncidentMap.Tests.Imports;

/// <summary>The import command of the service binary, run as a separate process the way the README shows.</summary>
public sealed class ImportCommandTests
{
    private static Task<(int Exit, string Out, string Err)> RunAsync(params string[] args) => ServiceProcess.RunAsync(null, args);

    [Fact]
    public async Task A_source_that_is_no_source_is_a_usage_error_saying_what_a_source_may_hold()
    {
        var path = Path.Combine(Path.GetTempPath(), $"incidentmap-source-{Guid.NewGuid():N}.csv");
        await File.WriteAllTextAsync(path, "title\n");
        try
        {
            var (exit, _, stderr) = await RunAsync("import", path, "--source", "bad source");

            Assert.Equal(2, exit);
            Assert.Contains("--source 'bad source' must be 1 to 100 letters, digits or . _ : -", stderr);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// An option given twice is refused as keys refuses one (the last one won without a word), and each usage error says
    /// what is wrong before the usage: a word it does not take, an option without its value, a directory for the file.
    /// </summary>
    [Theory]
    [InlineData("--format is given twice", "{csv}", "--format", "csv", "--format", "geojson")]
    [InlineData("--source is given twice", "{csv}", "--source", "a", "--source", "b")]
    [InlineData("'extra' is not understood", "{csv}", "extra")]
    [InlineData("--format needs a value (csv, geojson or ndjson)", "{csv}", "--format")]
    [InlineData("--format 'xml' is not a format", "{csv}", "--format", "xml")]
    [InlineData("import needs a FILE")]
    [InlineData("is a directory, not a file", "{dir}")]
    [InlineData("is a directory, not a file", "{plain}")] // was "cannot tell the format of … from its name"
    [InlineData("no such file", "{missing}")]
    public async Task A_usage_error_is_exit_2_saying_what_is_wrong_and_imports_nothing(string said, params string[] rest)
    {
        var folder = Directory.CreateTempSubdirectory("incidentmap-usage-");
        var csv = Path.Combine(folder.FullName, "a.csv");
        await File.WriteAllTextAsync(csv, "external_id,title,event_type,occurred_at,lon,lat\nusage-1,One,riots,2016-01-01,36.7,34.7\n");
        Directory.CreateDirectory(Path.Combine(folder.FullName, "d.csv"));
        Directory.CreateDirectory(Path.Combine(folder.FullName, "exports"));
        try
        {
            var (exit, stdout, stderr) = await RunAsync(["import", .. rest.Select(r => r.Replace("{csv}", csv).Replace("{dir}", Path.Combine(folder.FullName, "d.csv"))
                .Replace("{plain}", Path.Combine(folder.FullName, "exports")).Replace("{missing}", Path.Combine(folder.FullName, "none")))]);

            Assert.True(exit == 2, $"exit {exit}\n{stdout}\n{stderr}");
            Assert.Equal("", stdout);
            var first = stderr.Split('\n')[0];
            Assert.Contains(said, first);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_file_unreadable_from_its_header_says_why_and_not_that_rows_before_it_were_imported()
    {
        var path = Path.Combine(Path.GetTempPath(), $"incidentmap-semicolons-{Guid.NewGuid():N}.csv");
        await File.WriteAllTextAsync(path, "external_id;title;event_type;occurred_at;lon;lat\nx-1;One;riots;2016-01-01;36.7;34.7\n");
        try
        {
            var (exit, stdout, stderr) = await RunAsync("import", path);

            Assert.Equal(1, exit);
            Assert.Contains($"{path}:1: header fields are separated by ';'; IncidentMap reads comma-separated files", stderr);
            Assert.DoesNotContain("rows before it were imported", stderr);
            // Under the default source (README: anything but an ACLED export is "import"): it was null, logged as "(null)".
            Assert.Equal("import", System.Text.Json.Nodes.JsonNode.Parse(stdout)!["source"]!.GetValue<string>());
            Assert.Contains("Import from import by cli:", stderr);
            Assert.DoesNotContain("(null)", stderr);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// A gzip file without .gz in its name (or gzip piped to /dev/stdin) was told the API's remedy, "send Content-Encoding:
    /// gzip", which a command cannot do.
    /// </summary>
    [Fact]
    public async Task A_gzip_file_not_named_gz_is_told_to_be_named_so_or_decompressed_and_imports_nothing()
    {
        var prefix = Unique();
        var path = Path.Combine(Path.GetTempPath(), $"{prefix}.csv");
        var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
            gzip.Write(System.Text.Encoding.UTF8.GetBytes($"external_id,title,event_type,occurred_at,lon,lat\n{prefix}-1,Gzipped,riots,2016-01-01,36.7,34.7\n"));
        await File.WriteAllBytesAsync(path, compressed.ToArray());
        try
        {
            var (exit, stdout, stderr) = await RunAsync("import", path, "--format", "csv", "--source", prefix);

            Assert.True(exit == 1, $"exit {exit}\n{stdout}\n{stderr}");
            Assert.Contains($"{path}: looks gzip-compressed", stderr);
            Assert.Contains("ending in .gz", stderr);
            Assert.Contains("gunzip", stderr);
            Assert.DoesNotContain("Content-Encoding", stderr);
            await using var connection = new NpgsqlConnection(ApiFixture.ConnectionString);
            Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM incidents WHERE import_source = @prefix", new { prefix }));
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>A CSV saved as UTF-16 (Excel's "Unicode Text", iconv -t UTF-16) was decoded as UTF-16 and imported; gzipped too.</summary>
    [Theory]
    [InlineData(".csv")]
    [InlineData(".csv.gz")]
    public async Task A_file_in_UTF16_is_refused_naming_body_and_imports_nothing(string extension)
    {
        var prefix = Unique();
        var path = Path.Combine(Path.GetTempPath(), $"{prefix}{extension}");
        var bytes = ImportEncodingTests.Encoded($"external_id,title,event_type,occurred_at,lon,lat\n{prefix}-1,Row in UTF-16,riots,2016-01-01,36.7,34.7\n", "UTF-16");
        if (extension.EndsWith(".gz"))
        {
            var compressed = new MemoryStream();
            using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(bytes);
            bytes = compressed.ToArray();
        }
        await File.WriteAllBytesAsync(path, bytes);
        try
        {
            var (exit, _, stderr) = await RunAsync("import", path, "--source", prefix);

            Assert.Equal(1, exit);
            Assert.Contains($"{path}:1: body is UTF-16 or UTF-32", stderr);
            await using var connection = new NpgsqlConnection(ApiFixture.ConnectionString);
            Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM incidents WHERE import_source = @prefix", new { prefix }));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task A_gzipped_CSV_imports_and_stdout_holds_only_the_JSON_report()
    {
        var prefix = Unique();
        var path = Path.Combine(Path.GetTempPath(), $"{prefix}.csv.gz");
        try
        {
            await using (var file = File.Create(path))
            await using (var gzip = new GZipStream(file, CompressionLevel.Fastest))
                await gzip.WriteAsync(Encoding.UTF8.GetBytes(
                    "external_id,title,event_type,occurred_at,lon,lat\n" +
                    $"{prefix}-1,One,riots,2016-01-01,36.7,34.7\n{prefix}-2,Two,riots,2016-01-02,36.7,34.7\n" +
                    $"{prefix}-3,Three,not-a-type,2016-01-03,36.7,34.7\n"));

            var (exit, stdout, stderr) = await RunAsync("import", path, "--source", prefix);

            Assert.True(exit == 0, $"exit {exit}\n{stderr}");
            // Logs and the progress bar go to stderr; stdout parses as the report, whole.
            var report = JsonNode.Parse(stdout)!;
            AssertCounts(report, 2, 0, 0, 1);
            Assert.Equal(4, report["rejected_rows"]![0]!["line"]!.GetValue<long>());
            Assert.Contains("rows/s", stderr);
            await using var connection = new NpgsqlConnection(ApiFixture.ConnectionString);
            Assert.Equal(2, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM incidents WHERE import_source = @prefix", new { prefix }));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task The_command_geocodes_rows_with_a_place_name_and_no_coordinates()
    {
        var prefix = Unique();
        var path = Path.Combine(Path.GetTempPath(), $"{prefix}.csv");
        try
        {
            await File.WriteAllTextAsync(path, $"external_id,title,event_type,occurred_at,location_name,country\n{prefix}-1,Shelling,battles,2016-02-21,Homs,SY\n");

            var (exit, stdout, stderr) = await RunAsync("import", path, "--source", prefix);

            Assert.True(exit == 0, $"exit {exit}\n{stderr}");
            AssertCounts(JsonNode.Parse(stdout)!, 1, 0, 0, 0);
            await using var connection = new NpgsqlConnection(ApiFixture.ConnectionString);
            var (lon, lat, placed) = await connection.QuerySingleAsync<(double, double, bool)>(
                "SELECT ST_X(geom), ST_Y(geom), place_id IS NOT NULL FROM incidents WHERE import_source = @prefix", new { prefix });
            Assert.True(placed && Math.Abs(lon - 36.72) < 0.05 && Math.Abs(lat - 34.73) < 0.05, $"Homs, Syria expected, got {lon} {lat}");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task A_gz_file_of_several_members_imports_every_row_and_one_cut_in_its_second_member_fails_naming_the_file()
    {
        var prefix = Unique();
        var csv = "external_id,title,event_type,occurred_at,lon,lat\n" +
                  string.Concat(Enumerable.Range(1, 600).Select(n => $"{prefix}-{n},Row {n},riots,2016-01-01,36.7,34.7\n"));
        var members = ImportEdgeTests.GzipMembers(Encoding.UTF8.GetBytes(csv), 3);
        var whole = Path.Combine(Path.GetTempPath(), $"{prefix}.csv.gz");
        var cut = Path.Combine(Path.GetTempPath(), $"{prefix}-cut.csv.gz");
        try
        {
            await File.WriteAllBytesAsync(whole, [.. members.SelectMany(m => m)]);
            await File.WriteAllBytesAsync(cut, [.. members.SelectMany(m => m).Take(members[0].Length + members[1].Length / 2)]);

            var (exit, stdout, stderr) = await RunAsync("import", whole, "--source", prefix);

            Assert.True(exit == 0, $"exit {exit}\n{stderr}");
            AssertCounts(JsonNode.Parse(stdout)!, 600, 0, 0, 0);

            (exit, stdout, stderr) = await RunAsync("import", cut, "--source", prefix);

            Assert.Equal(1, exit);
            // Read through before any of it is imported (CheckedFirst): nothing of the cut file was.
            Assert.Contains($"{cut}:1: body is cut off: the compressed data ends before the end its format marks (a transfer broken off?)", stderr);
            Assert.DoesNotContain("were imported", stderr);
            Assert.Equal("body", JsonNode.Parse(stdout)!["error"]!["field"]!.GetValue<string>());
            Assert.Equal(0, JsonNode.Parse(stdout)!["rows"]!.GetValue<long>());
            await using var connection = new NpgsqlConnection(ApiFixture.ConnectionString);
            Assert.Equal(600, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM incidents WHERE import_source = @prefix", new { prefix }));
        }
        finally
        {
            File.Delete(whole);
            File.Delete(cut);
        }
    }

    [Fact]
    public async Task A_gz_file_changed_in_transfer_that_still_decompresses_imports_nothing()
    {
        var prefix = Unique();
        var csv = "external_id,title,event_type,occurred_at,lon,lat\n" +
                  string.Concat(Enumerable.Range(1, 3000).Select(n => $"{prefix}-{n},Row {n},riots,2016-01-01,{(n == 1500 ? "21.1967" : "36.7")},34.7\n"));
        var (whole, corrupt) = ImportEdgeTests.GzipCorruptedInTransfer(csv, "21.1967", "11.1967");
        var path = Path.Combine(Path.GetTempPath(), $"{prefix}.csv.gz");
        try
        {
            await File.WriteAllBytesAsync(path, corrupt);

            var (exit, stdout, stderr) = await RunAsync("import", path, "--source", prefix);

            Assert.Equal(1, exit);
            Assert.Contains($"{path}:1: body does not decompress", stderr);
            Assert.Equal(0, JsonNode.Parse(stdout)!["rows"]!.GetValue<long>());
            await using var connection = new NpgsqlConnection(ApiFixture.ConnectionString);
            Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM incidents WHERE import_source = @prefix", new { prefix }));

            await File.WriteAllBytesAsync(path, whole);
            (exit, stdout, stderr) = await RunAsync("import", path, "--source", prefix);

            Assert.True(exit == 0, $"exit {exit}\n{stderr}");
            AssertCounts(JsonNode.Parse(stdout)!, 3000, 0, 0, 0);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// A named pipe called rows.csv.gz (gzip writing into a mkfifo) was opened twice: once to check its first bytes, then
    /// to import. The second open waited for a writer that had gone, and the command hung for ever.
    /// </summary>
    [Fact]
    public async Task A_named_pipe_of_gzip_data_is_read_once_and_imported()
    {
        var prefix = Unique();
        var folder = Directory.CreateTempSubdirectory("incidentmap-fifo-");
        var pipe = Path.Combine(folder.FullName, $"{prefix}.csv.gz");
        try
        {
            using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [pipe])!)
            {
                await mkfifo.WaitForExitAsync();
                Assert.Equal(0, mkfifo.ExitCode);
            }
            var compressed = new MemoryStream();
            await using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
                await gzip.WriteAsync(Encoding.UTF8.GetBytes("external_id,title,event_type,occurred_at,lon,lat\n" +
                    string.Concat(Enumerable.Range(1, 3).Select(n => $"{prefix}-{n},Row {n},riots,2016-01-01,36.7,34.7\n"))));
            // Opening a pipe to write waits for its reader, as gzip's shell redirection does.
            var writer = Task.Run(() =>
            {
                using var write = new FileStream(pipe, FileMode.Open, FileAccess.Write);
                write.Write(compressed.ToArray());
            });

            var start = ServiceProcess.StartInfo(null, "import", pipe, "--source", prefix);
            using var process = System.Diagnostics.Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"the import of a named pipe did not end within 60 s\n{await stderr}");
            }

            Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}\n{await stderr}");
            await writer;
            AssertCounts(JsonNode.Parse(await stdout)!, 3, 0, 0, 0);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>The command run with <paramref name="input"/> piped to its standard input.</summary>
    private static async Task<(int Exit, string Out, string Err)> RunPipedAsync(string input, params string[] args)
    {
        var start = ServiceProcess.StartInfo(null, args);
        start.RedirectStandardInput = true;
        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(input);
        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task A_file_piped_to_standard_input_imports_and_one_unreadable_part_way_is_reported()
    {
        var prefix = Unique();
        var header = "external_id,title,event_type,occurred_at,lon,lat\n";
        var rows = $"{prefix}-1,One,riots,2016-01-01,36.7,34.7\n{prefix}-2,Two,riots,2016-01-02,36.7,34.7\n";

        var (exit, stdout, stderr) = await RunPipedAsync(header + rows, "import", "/dev/stdin", "--format", "csv", "--source", prefix);

        Assert.True(exit == 0, $"exit {exit}\n{stderr}");
        AssertCounts(JsonNode.Parse(stdout)!, 2, 0, 0, 0);
        // No size to measure a pipe's progress against: no bar, the rows counted.
        Assert.Contains("2 rows", stderr);
        Assert.DoesNotContain("%", stderr);

        (exit, stdout, stderr) = await RunPipedAsync(header + rows + $"{prefix}-3,\"Three,riots,2016-01-03,36.7,34.7\n",
            "import", "/dev/stdin", "--format", "csv", "--source", prefix);

        Assert.True(exit == 1, $"exit {exit}\n{stderr}");
        var report = JsonNode.Parse(stdout)!;
        Assert.Equal("body", report["error"]!["field"]!.GetValue<string>());
        Assert.Contains("/dev/stdin:4: body", stderr);
        Assert.DoesNotContain("seek", stderr);
        AssertCounts(report, 0, 0, 2, 0);
    }

    /// <summary>
    /// On an 80-column terminal the progress line fits (its ~115 characters wrapped, each redraw adding a line), each
    /// redraw clears to the end of the line (shorter figures left old characters: 00:00:032), and the bar's line is
    /// ended before the importer's last log line, which was glued onto it. Run under script(1), a real terminal.
    /// </summary>
    [Fact]
    public async Task On_a_terminal_the_bar_fits_its_width_clears_each_redraw_and_ends_before_the_log()
    {
        var prefix = Unique();
        var folder = Directory.CreateTempSubdirectory("incidentmap-tty-");
        var csv = Path.Combine(folder.FullName, "rows.csv");
        var raw = Path.Combine(folder.FullName, "out.raw");
        await File.WriteAllTextAsync(csv, "external_id,title,event_type,occurred_at,lon,lat\n" +
            string.Concat(Enumerable.Range(1, 25_000).Select(n => $"{prefix}-{n},Row {n} of a file long enough to take a few redraws,riots,2016-01-01,36.7,34.7\n")));
        try
        {
            var inner = ServiceProcess.StartInfo(null, "import", csv, "--source", prefix);
            var command = "stty cols 80 rows 24; " + string.Join(' ', new[] { inner.FileName }.Concat(inner.ArgumentList).Select(a => $"'{a}'")) + " >/dev/null";
            var start = new System.Diagnostics.ProcessStartInfo("script", ["-q", "-e", "-c", command, raw]) { RedirectStandardOutput = true, RedirectStandardInput = true };
            foreach (var (key, value) in inner.Environment) start.Environment[key] = value;
            using var process = System.Diagnostics.Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            await process.WaitForExitAsync(timeout.Token);
            await output;
            Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}\n{await File.ReadAllTextAsync(raw)}");

            var text = await File.ReadAllTextAsync(raw);
            // script(1)'s own first line quotes the command ("stty cols 80 rows 24"): not a drawing.
            var drawings = text.Split(['\r', '\n']).Where(d => d.Contains(" rows ", StringComparison.Ordinal) && !d.Contains("COMMAND=", StringComparison.Ordinal)).ToList();
            Assert.True(drawings.Count >= 2, text);
            Assert.All(drawings, d =>
            {
                Assert.EndsWith("\u001b[K", d);
                Assert.True(d.Length - 3 <= 79, $"{d.Length - 3} columns: {d}");
            });
            // The last drawing is 100 % and ends its line; the importer's log line starts a line of its own.
            Assert.Contains("100 %", drawings[^1]);
            Assert.Contains("\u001b[K\r\n", text);
            var log = text.IndexOf("info: IncidentMap.Api.Imports.Importer", StringComparison.Ordinal);
            Assert.True(log > 0 && text[log - 1] == '\n', text);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData(80)]
    [InlineData(40)]
    [InlineData(12)]
    public void The_progress_line_fits_the_width_less_one_column(int width)
    {
        var line = IncidentMap.Api.Imports.ImportCommand.Line(12_345_678, 12_000_000, 345_678, 0, 12, 0.5, TimeSpan.FromSeconds(3723), sized: true, width);

        Assert.True(line.Length <= width - 1, $"{line.Length}: {line}");
        Assert.Contains("inserted 12,000,000", IncidentMap.Api.Imports.ImportCommand.Line(12_345_678, 12_000_000, 345_678, 0, 12, 0.5, TimeSpan.FromSeconds(3723), sized: true, int.MaxValue));
    }
}
