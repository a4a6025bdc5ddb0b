using System.IO.Compression;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using IncidentMap.Api.Database;
using IncidentMap.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace IncidentMap.Tests.Places;

/// <summary>
/// The gazetteer a service loads as it starts (Gazetteer:Path): the GeoNames extract once, and the curated
/// spellings (alternate-names.tsv) at every start, so that spellings added to the list after a database was
/// loaded reach it. On a database of its own, with a gazetteer of a few places written here.
/// </summary>
public sealed class GazetteerLoadTests : IAsyncLifetime
{
    private const string Header = "geonameid\tname\talternate_name\tcountry\tadmin1\tfeature_code\tpopulation\tlon\tlat";

    private OwnDatabase _database = null!;
    private readonly string _directory = Directory.CreateTempSubdirectory("incidentmap-gazetteer-").FullName;

    public async Task InitializeAsync()
    {
        _database = await OwnDatabase.CreateAsync("gazetteer");
        await new Migrator(_database.DataSource, NullLogger<Migrator>.Instance, ApiFixture.AppRole).MigrateAsync();
        await using var file = File.Create(Path.Combine(_directory, "places.tsv.gz"));
        await using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        await using var writer = new StreamWriter(gzip);
        await writer.WriteAsync(string.Join('\n',
            Header,
            "9100001\tHoms\t\tSY\tHoms\tPPLA\t775404\t36.72339\t34.72682",
            // A smaller place of the same name and country: the curated spellings go to the larger one.
            "9100002\tHoms\t\tSY\tTartus\tPPL\t1200\t35.90000\t34.90000",
            "9100003\tAleppo\tHalab\tSY\tAleppo\tPPLA\t1602264\t37.16117\t36.20124",
            "9100004\tDamascus\tDimashq\tSY\tDimashq\tPPLC\t1569394\t36.29128\t33.51020") + "\n");
    }

    public async Task DisposeAsync()
    {
        await _database.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private sealed class Service(string database, string gazetteer) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            ApiFixture.Configure(builder);
            ApiFixture.UseDatabase(builder, database);
            builder.UseSetting("Gazetteer:Path", gazetteer);
        }
    }

    private Task CurateAsync(params string[] lines) =>
        File.WriteAllTextAsync(Path.Combine(_directory, "alternate-names.tsv"), string.Join('\n', ["country\tname\talternate_names", .. lines]) + "\n");

    /// <summary>Starts a service on the database (which loads the gazetteer) and returns the geonameids of the places <paramref name="q"/> finds.</summary>
    private async Task<List<long>> StartAndSearchAsync(string q)
    {
        await using var service = new Service(_database.Name, _directory);
        var json = await service.CreateClient().GetFromJsonAsync<JsonElement>($"/collections/places/items?q={Uri.EscapeDataString(q)}&limit=100");
        var ids = json.GetProperty("features").EnumerateArray().Select(f => f.GetProperty("id").GetInt64()).ToArray();
        await using var connection = await _database.DataSource.OpenConnectionAsync();
        return (await connection.QueryAsync<long>("SELECT geonameid FROM places WHERE id = ANY(@ids) ORDER BY geonameid", new { ids })).ToList();
    }

    private async Task<Dictionary<long, (string[] Names, string Xmin)>> PlacesAsync()
    {
        await using var connection = await _database.DataSource.OpenConnectionAsync();
        return (await connection.QueryAsync<(long Id, string[] Names, string Xmin)>(
            "SELECT geonameid, alternate_names, xmin::text FROM places ORDER BY geonameid")).ToDictionary(p => p.Id, p => (p.Names, p.Xmin));
    }

    [Fact]
    public async Task Curated_spellings_reach_the_largest_place_of_the_name_at_load_and_spellings_added_later_at_the_next_start()
    {
        // Two lines for one place (both apply), a spelling the place has already, and a place the gazetteer lacks.
        await CurateAsync("SY\tHoms\tHims|Emesa", "SY\tHoms\tḤimṣ", "SY\tAleppo\tHalab|حلب", "SY\tNowhere\tNulla");
        Assert.Equal([9100001], await StartAndSearchAsync("Emesa"));
        var loaded = await PlacesAsync();
        Assert.Equal(["Emesa", "Hims", "Ḥimṣ"], loaded[9100001].Names.Order(StringComparer.Ordinal));
        Assert.Empty(loaded[9100002].Names);
        Assert.Equal(["Halab", "حلب"], loaded[9100003].Names.Order(StringComparer.Ordinal));
        Assert.Equal(["Dimashq"], loaded[9100004].Names);
        Assert.Equal(4, loaded.Count);

        // A later list: a new spelling for Damascus, the rest as before. Only Damascus is written again.
        await CurateAsync("SY\tHoms\tHims|Emesa", "SY\tHoms\tḤimṣ", "SY\tAleppo\tHalab|حلب", "SY\tDamascus\tAsh Sham|Dimashq");
        Assert.Equal([9100004], await StartAndSearchAsync("Ash Sham"));
        var later = await PlacesAsync();
        Assert.Equal(["Ash Sham", "Dimashq"], later[9100004].Names.Order(StringComparer.Ordinal));
        Assert.NotEqual(loaded[9100004].Xmin, later[9100004].Xmin);
        foreach (var unchanged in new long[] { 9100001, 9100002, 9100003 })
        {
            Assert.Equal(loaded[unchanged].Names, later[unchanged].Names);
            Assert.Equal(loaded[unchanged].Xmin, later[unchanged].Xmin);
        }
    }

    private async Task WriteGazetteerAsync(params string[] lines)
    {
        await using var file = File.Create(Path.Combine(_directory, "places.tsv.gz"));
        await using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        await using var writer = new StreamWriter(gzip);
        await writer.WriteAsync(string.Join('\n', [Header + "\tother_names", .. lines]) + "\n");
    }

    private async Task<Dictionary<string, bool>> NamesAsync(long geonameid)
    {
        await using var connection = await _database.DataSource.OpenConnectionAsync();
        return (await connection.QueryAsync<(string Name, bool Other)>(
                "SELECT n.name, n.other FROM place_names n JOIN places p ON p.id = n.place_id WHERE p.geonameid = @geonameid", new { geonameid }))
            .ToDictionary(n => n.Name, n => n.Other);
    }

    /// <summary>
    /// The gazetteer's tenth column, GeoNames' other names of a place (migration 0046), loads with the places: each is
    /// searched, below the places whose own name q is; one that is also a curated spelling is an own name; names
    /// <see cref="Api.Places.OtherNames.Keep"/> refuses (a lower-case romanisation, a code, another script) are left out.
    /// </summary>
    [Fact]
    public async Task Other_names_load_with_the_places_and_rank_below_own_names()
    {
        await WriteGazetteerAsync(
            "9100001\tHoms\t\tSY\tHoms\tPPLA\t775404\t36.72339\t34.72682\tEmesa,Khoms",
            "9100005\tAl Khums\t\tLY\tAl Marqab\tPPLA\t201943\t14.26191\t32.64861\tHoms,Khoms,khums,KHM,Хомс",
            "9100006\tTimbuktu\t\tML\tTombouctou\tPPLA\t35330\t-3.00742\t16.77348\tTombouctou,تمبكتو");
        await CurateAsync("SY\tHoms\tEmesa");

        Assert.Equal([9100006], await StartAndSearchAsync("Tombouctou"));
        Assert.Equal([9100006], await StartAndSearchAsync("تمبكتو"));
        await using (var service = new Service(_database.Name, _directory))
        {
            var homs = await service.CreateClient().GetFromJsonAsync<JsonElement>("/collections/places/items?q=Homs");
            var found = homs.GetProperty("features").EnumerateArray().Select(f => f.GetProperty("properties")).ToList();
            Assert.Equal(["Homs", "Al Khums"], found.Select(p => p.GetProperty("name").GetString()).Take(2));
            Assert.All(found.Take(2), p => Assert.Equal("exact", p.GetProperty("match").GetString()));
            Assert.Equal(["Homs", "Khoms"], found[1].GetProperty("other_names").EnumerateArray().Select(n => n.GetString()));
        }
        Assert.Equal(new Dictionary<string, bool> { ["Homs"] = false, ["Emesa"] = false, ["Khoms"] = true }, await NamesAsync(9100001));
        Assert.Equal(new Dictionary<string, bool> { ["Al Khums"] = false, ["Homs"] = true, ["Khoms"] = true }, await NamesAsync(9100005));
    }

    /// <summary>
    /// A database whose gazetteer was loaded from a file without other names (before migration 0046, or a custom
    /// Gazetteer:Path of that age) gets them at the first start with a file that has them, once. Alternate names an
    /// import of before 0046 gave (then own names) become other names, the file's own alternate name and the curated
    /// spellings staying own; a place not in the file loses its dump's own names to its other names; a place a
    /// <c>places import</c> gave other names since keeps them; later starts write nothing.
    /// </summary>
    [Fact]
    public async Task A_database_loaded_before_other_names_gets_them_once_at_its_next_start()
    {
        await CurateAsync("SY\tHoms\tHims");
        await StartAndSearchAsync("Homs"); // the four places of InitializeAsync's file, which has no other names
        await using (var connection = await _database.DataSource.OpenConnectionAsync())
        {
            // A file without the column records nothing (review: a later file's names were never filled).
            Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM gazetteer_parts"));
            // As a database of before 0046 into which dumps were imported: alternate names from a dump (own names
            // then), a place the shipped file lacks, and Aleppo given a dump's other names since.
            await connection.ExecuteAsync("UPDATE places SET alternate_names = '{Hims,Hims Town,hms}' WHERE geonameid = 9100001");
            await connection.ExecuteAsync("UPDATE places SET alternate_names = '{Dimashq,Damaskus}' WHERE geonameid = 9100004");
            await connection.ExecuteAsync("UPDATE places SET other_names = '{Haleb}' WHERE geonameid = 9100003");
            await connection.ExecuteAsync("""
                INSERT INTO places (geonameid, name, alternate_names, country, kind, population, geom)
                VALUES (9100009, 'Kafr Dump', '{Kafr Dumpa}', 'SY', 'PPL', 1500, ST_SetSRID(ST_MakePoint(36.5, 34.5), 4326))
                """);
        }
        await WriteGazetteerAsync(
            "9100001\tHoms\t\tSY\tHoms\tPPLA\t775404\t36.72339\t34.72682\tEmesa,Khoms",
            "9100002\tHoms\t\tSY\tTartus\tPPL\t1200\t35.90000\t34.90000\t",
            "9100003\tAleppo\tHalab\tSY\tAleppo\tPPLA\t1602264\t37.16117\t36.20124\tAlep,Halep",
            "9100004\tDamascus\tDimashq\tSY\tDimashq\tPPLC\t1569394\t36.29128\t33.51020\tEsh Sham");

        Assert.Equal([9100001], await StartAndSearchAsync("Emesa"));
        // "hms", lower case, is a machine romanisation: OtherNames.Keep leaves it out (review).
        Assert.Equal(new Dictionary<string, bool> { ["Homs"] = false, ["Hims"] = false, ["Emesa"] = true, ["Khoms"] = true, ["Hims Town"] = true },
            await NamesAsync(9100001));
        Assert.Equal(new Dictionary<string, bool> { ["Aleppo"] = false, ["Halab"] = false, ["Haleb"] = true }, await NamesAsync(9100003));
        Assert.Equal(new Dictionary<string, bool> { ["Damascus"] = false, ["Dimashq"] = false, ["Esh Sham"] = true, ["Damaskus"] = true }, await NamesAsync(9100004));
        Assert.Equal(new Dictionary<string, bool> { ["Kafr Dump"] = false, ["Kafr Dumpa"] = true }, await NamesAsync(9100009));
        var filled = await PlacesAsync();
        Assert.Equal(["Hims"], filled[9100001].Names);

        await StartAndSearchAsync("Homs");
        var again = await PlacesAsync();
        Assert.All(filled, p => Assert.Equal(p.Value.Xmin, again[p.Key].Xmin));
    }

    private Task ListDivisionsAsync(params string[] lines) =>
        File.WriteAllTextAsync(Path.Combine(_directory, "admin1.tsv"), string.Join('\n', ["country\tcode\tname", .. lines]) + "\n");

    private async Task<Dictionary<string, (string Name, string Xmin)>> DivisionsAsync()
    {
        await using var connection = await _database.DataSource.OpenConnectionAsync();
        return (await connection.QueryAsync<(string Key, string Name, string Xmin)>(
            "SELECT country || '.' || code, name, xmin::text FROM admin1_divisions")).ToDictionary(d => d.Key, d => (d.Name, d.Xmin));
    }

    /// <summary>
    /// The first-level divisions by code (admin1.tsv), which <c>places import</c> names a place's admin1 by, are
    /// loaded at the first start and made what a later list says at the next; rows the list keeps are not rewritten.
    /// </summary>
    [Fact]
    public async Task First_level_divisions_are_loaded_at_start_and_follow_a_later_list()
    {
        await ListDivisionsAsync("SY\t11\tHoms", "SY\t13\tDamascus", "SY\t09\tAleppo");
        await StartAndSearchAsync("Homs");
        var loaded = await DivisionsAsync();
        Assert.Equal(["SY.09", "SY.11", "SY.13"], loaded.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("Damascus", loaded["SY.13"].Name);

        await ListDivisionsAsync("SY\t11\tHoms", "SY\t13\tDamascus Governorate", "SY\t14\tTartus");
        await StartAndSearchAsync("Homs");
        var later = await DivisionsAsync();
        Assert.Equal(["SY.11", "SY.13", "SY.14"], later.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("Damascus Governorate", later["SY.13"].Name);
        Assert.Equal(loaded["SY.11"].Xmin, later["SY.11"].Xmin);

        // A list cut short to its header, or with only broken lines, leaves the table as it is; a broken line
        // beside good ones is left out, and the service starts.
        await ListDivisionsAsync();
        await StartAndSearchAsync("Homs");
        Assert.Equal(["SY.11", "SY.13", "SY.14"], (await DivisionsAsync()).Keys.Order(StringComparer.Ordinal));
        await ListDivisionsAsync("SY\t11", "SY\t11\tHoms", "SY\t13\tDamascus Governorate");
        await StartAndSearchAsync("Homs");
        Assert.Equal(["SY.11", "SY.13"], (await DivisionsAsync()).Keys.Order(StringComparer.Ordinal));
    }
}
