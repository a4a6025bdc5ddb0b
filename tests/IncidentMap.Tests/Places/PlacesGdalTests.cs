using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace IncidentMap.Tests.Places;

/// <summary>GDAL's OAPIF driver opening the places collection as a layer, over HTTP.</summary>
public sealed partial class PlacesGdalTests(KestrelApiFixture api) : IClassFixture<KestrelApiFixture>
{
    [GeneratedRegex(@"^Feature Count: (\d+)$", RegexOptions.Multiline)]
    private static partial Regex FeatureCount();

    [GeneratedRegex(@"^Extent: \(([-\d.]+), ([-\d.]+)\) - \(([-\d.]+), ([-\d.]+)\)$", RegexOptions.Multiline)]
    private static partial Regex Extent();

    [Fact]
    public async Task Ogrinfo_summarises_the_gazetteer_from_the_collection_and_the_first_page_without_paging_through_it()
    {
        // Without an extent and numberMatched, GDAL read every place, 10 a page (13,500 requests): it
        // must now answer from the collection document and one page.
        var db = api.Services.GetRequiredService<Npgsql.NpgsqlDataSource>();
        async Task<long> CountAsync()
        {
            await using var command = db.CreateCommand("SELECT count(*) FROM places");
            return (long)(await command.ExecuteScalarAsync())!;
        }
        await using var box = db.CreateCommand("SELECT ARRAY[ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)] FROM (SELECT ST_Extent(geom)::geometry AS e FROM places WHERE source = 'geonames') s");
        var gazetteer = (double[])(await box.ExecuteScalarAsync())!;

        var start = new ProcessStartInfo("ogrinfo") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-so", "-ro", $"OAPIF:{api.BaseUrl}", "places" }) start.ArgumentList.Add(a);
        var before = await CountAsync();
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"ogrinfo was still reading the places after {clock.Elapsed.TotalSeconds:0} s");
        }
        var after = await CountAsync();
        var output = await stdout;

        Assert.True(process.ExitCode == 0 && !(await stderr).Contains("ERROR"), $"ogrinfo failed: {await stderr}");
        Assert.Contains("Layer name: places", output);
        // Typed by the collection's feature schema: the first page's places have no alternate names or GeoNames id to guess from.
        foreach (var field in new[] { "alternate_names: StringList ", "population: Integer ", "geonameid: Integer " }) Assert.Contains(field, output);
        // Tests running alongside add and delete a few places of their own.
        var count = long.Parse(FeatureCount().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(count >= 135_233 && Math.Abs(count - before) <= 50 && Math.Abs(count - after) <= 50, $"Feature Count: {count}, {before} to {after} places");
        var extent = Extent().Match(output);
        Assert.True(extent.Success, output);
        var bbox = Enumerable.Range(1, 4).Select(n => double.Parse(extent.Groups[n].Value, CultureInfo.InvariantCulture)).ToArray();
        // GDAL prints six decimals: the gazetteer's box, within a millionth of a degree.
        Assert.True(bbox[0] <= gazetteer[0] + 1e-6 && bbox[1] <= gazetteer[1] + 1e-6 && bbox[2] >= gazetteer[2] - 1e-6 && bbox[3] >= gazetteer[3] - 1e-6,
            $"extent {string.Join(",", bbox)} misses some of the gazetteer's {string.Join(",", gazetteer)}");
        Assert.True(bbox[0] >= -180 && bbox[1] >= -90 && bbox[2] <= 180 && bbox[3] <= 90, $"extent {string.Join(",", bbox)}");
    }
}
