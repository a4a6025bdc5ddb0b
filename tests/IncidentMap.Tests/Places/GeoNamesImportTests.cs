using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Api.Imports;
using IncidentMap.Api.Places;
using IncidentMap.Tests.Imports;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace IncidentMap.Tests.Places;

/// <summary><c>places import</c> of dumps packed as they travel: gzip of several members, zip archives of several dumps.</summary>
[Collection(ApiCollection.Name)]
public sealed class GeoNamesImportTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    /// <summary>A GeoNames dump line (19 tab-separated columns): a populated place, or with class T a mountain, which is skipped.</summary>
    private static string Line(long id, string name, string country, string featureClass = "P") =>
        $"{id}\t{name}\t{name}\t\t34.9\t36.8\t{featureClass}\t{(featureClass == "P" ? "PPL" : "MT")}\t{country}\t\t11\t\t\t\t1234\t\t400\tAsia/Damascus\t2024-01-01\n";

    private static (long Id, string Name) NewPlace(string what) =>
        (960_000_000 + Random.Shared.Next(30_000_000), $"Qarya {what} {Guid.NewGuid():N}"[..30]);

    private Task<GeoNamesImport.Result> ImportAsync(byte[] file) =>
        api.Services.GetRequiredService<GeoNamesImport>().ImportAsync(new MemoryStream(file));

    private async Task<string?> StoredNameAsync(long geonameid)
    {
        await using var connection = await api.Database.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<string?>("SELECT name FROM places WHERE geonameid = @geonameid", new { geonameid });
    }

    private static byte[] Zip(params (string Name, string Text)[] entries)
    {
        var packed = new MemoryStream();
        using (var zip = new ZipArchive(packed, ZipArchiveMode.Create, leaveOpen: true))
            foreach (var (name, text) in entries)
            {
                using var entry = zip.CreateEntry(name).Open();
                entry.Write(Encoding.UTF8.GetBytes(text));
            }
        return packed.ToArray();
    }

    [Fact]
    public async Task A_dump_gzipped_in_several_members_imports_every_place()
    {
        var (first, second, third) = (NewPlace("One"), NewPlace("Two"), NewPlace("Three"));
        var dump = Encoding.UTF8.GetBytes(Line(first.Id, first.Name, "SY") + Line(second.Id, second.Name, "SY") + Line(third.Id, third.Name, "SY"));

        var result = await ImportAsync([.. ImportEdgeTests.GzipMembers(dump, 3).SelectMany(m => m)]);

        Assert.Equal((3, 3, 0), (result.Read, result.Imported, result.Skipped));
        foreach (var (id, name) in new[] { first, second, third }) Assert.Equal(name, await StoredNameAsync(id));
    }

    [Fact]
    public async Task A_dump_gzipped_in_several_members_and_cut_in_the_second_is_refused_and_nothing_is_written()
    {
        var (first, second) = (NewPlace("Kept"), NewPlace("Cut"));
        var members = ImportEdgeTests.GzipMembers(Encoding.UTF8.GetBytes(Line(first.Id, first.Name, "SY") + Line(second.Id, second.Name, "SY")), 2);

        var error = await Assert.ThrowsAsync<InvalidDataException>(() =>
            ImportAsync([.. members[0], .. members[1][..(members[1].Length / 2)]]));

        // Named by the command (below): here the input has no name.
        Assert.Equal($"input: {CompleteDecompression.Truncated}", error.Message);
        Assert.Null(await StoredNameAsync(first.Id));
    }

    [Fact]
    public async Task A_zip_of_several_dumps_imports_every_one_and_skips_what_is_no_dump()
    {
        var (syrian, lebanese, both) = (NewPlace("Syria"), NewPlace("Lebanon"), NewPlace("Twice"));
        var (mountain, _) = NewPlace("Mountain");
        var zip = Zip(
            ("SY.txt", Line(syrian.Id, syrian.Name, "SY") + Line(both.Id, both.Name, "SY") + Line(mountain, "Some Mountain", "SY", "T")),
            ("readme.txt", "Readme for GeoNames Gazetteer extract files\n\nThe main 'geoname' table has the following fields :\n"),
            ("docs/", ""),
            ("LB.txt", Line(lebanese.Id, lebanese.Name, "LB") + Line(both.Id, both.Name + " again", "LB")));

        var result = await ImportAsync(zip);

        // Lines of the two dumps (the command lists each entry, below); the place in both is imported once, as the later entry
        // has it, and its earlier line is counted among the skipped (read = imported + skipped).
        Assert.Equal((5, 3, 2, 1), (result.Read, result.Imported, result.Skipped, result.Repeated));
        Assert.Equal(syrian.Name, await StoredNameAsync(syrian.Id));
        Assert.Equal(lebanese.Name, await StoredNameAsync(lebanese.Id));
        Assert.Equal(both.Name + " again", await StoredNameAsync(both.Id));
    }

    [Fact]
    public async Task A_zip_in_which_no_entry_is_a_dump_is_refused_naming_its_entries()
    {
        var zip = Zip(("readme.txt", "Readme for GeoNames\n"), ("acled.csv", "event_id_cnty,event_date\nSYR1,2016-02-21\n"));

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => ImportAsync(zip));

        Assert.Equal("input: no entry of the zip archive is a GeoNames dump (no line of readme.txt (1 lines), acled.csv (2 lines) is a GeoNames place: tab-separated, 19 columns, feature class P)", error.Message);
    }

    [Fact]
    public async Task The_command_refuses_a_gz_cut_in_its_second_member_in_one_line_naming_the_file()
    {
        var (first, second) = (NewPlace("Kept"), NewPlace("Cut"));
        var folder = Directory.CreateTempSubdirectory("geonames-");
        try
        {
            var gz = Path.Combine(folder.FullName, "SY.txt.gz");
            var members = ImportEdgeTests.GzipMembers(Encoding.UTF8.GetBytes(Line(first.Id, first.Name, "SY") + Line(second.Id, second.Name, "SY")), 2);
            await File.WriteAllBytesAsync(gz, [.. members[0], .. members[1][..^4]]);

            var (exit, _, stderr) = await ServiceProcess.RunAsync(null, "places", "import", gz);

            Assert.Equal(1, exit);
            var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("IncidentMap", StringComparison.Ordinal));
            Assert.Equal($"IncidentMap places failed: {gz}: {CompleteDecompression.Truncated}", line);
            Assert.Null(await StoredNameAsync(first.Id));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task The_command_reports_each_entry_of_a_zip()
    {
        var (syrian, lebanese) = (NewPlace("Syria"), NewPlace("Lebanon"));
        var folder = Directory.CreateTempSubdirectory("geonames-");
        try
        {
            var zip = Path.Combine(folder.FullName, "dumps.zip");
            await File.WriteAllBytesAsync(zip, Zip(("SY.txt", Line(syrian.Id, syrian.Name, "SY")), ("readme.txt", "Readme\n"), ("LB.txt", Line(lebanese.Id, lebanese.Name, "LB"))));

            var (exit, stdout, stderr) = await ServiceProcess.RunAsync(null, "places", "import", zip);

            Assert.True(exit == 0, $"exit {exit}\n{stderr}");
            Assert.Equal(
                new[]
                {
                    $"{zip}/SY.txt: 1 lines read, 1 places",
                    $"{zip}/readme.txt: skipped, not a GeoNames dump (none of its 1 lines is a GeoNames place)",
                    $"{zip}/LB.txt: 1 lines read, 1 places",
                    "2 lines read, 2 places imported, 0 skipped: 0 not a populated place (feature class P) or malformed, 0 an editor's place (a name of it within 1 km), 0 replaced by a later line of the same place (geonameid)",
                },
                stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Equal(syrian.Name, await StoredNameAsync(syrian.Id));
            Assert.Equal(lebanese.Name, await StoredNameAsync(lebanese.Id));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>
    /// A dump naming a place the curated list gives spellings to (db/gazetteer/alternate-names.tsv: Yabrūd, Syria,
    /// "Yabroud" and its Arabic name) keeps them among its alternate_names, its own names: they were replaced by the
    /// dump's until the service started again. The dump's alternate names are the place's other names (migration
    /// 0046), a curated spelling among them still an own name. The line restates the shipped place otherwise.
    /// </summary>
    [Fact]
    public async Task A_dump_naming_a_place_keeps_its_curated_spellings_and_gives_its_other_names()
    {
        await using var connection = await api.Database.OpenConnectionAsync();
        async Task<(string[] Own, string[] Other)> StoredAsync() =>
            ((await connection.ExecuteScalarAsync<string[]>("SELECT alternate_names FROM places WHERE geonameid = 162627"))!,
             (await connection.ExecuteScalarAsync<string[]>("SELECT other_names FROM places WHERE geonameid = 162627"))!);
        var before = await StoredAsync();
        Assert.Contains("Yabroud", before.Own);
        var line = "162627\tYabrūd\tYabrud\tGebru,Jabrud,Yabroud,Jabrud Nova,jabrud\t33.96921\t36.65729\tP\tPPLA2\tSY\t\t08\t\t\t\t40502\t\t1400\tAsia/Damascus\t2024-01-01\n";

        var result = await ImportAsync(Encoding.UTF8.GetBytes(line));

        Assert.Equal((1, 1, 0), (result.Read, result.Imported, result.Skipped));
        var after = await StoredAsync();
        Assert.Equal(before.Own.Order(), after.Own.Order());
        Assert.Contains("يبرود", after.Own);
        // A lower-case alternate name is a machine romanisation (OtherNames.Keep): left out.
        Assert.Equal(["Gebru", "Jabrud", "Yabroud", "Jabrud Nova"], after.Other);
        var kinds = (await connection.QueryAsync<(string Name, bool Other)>(
            "SELECT n.name, n.other FROM place_names n JOIN places p ON p.id = n.place_id WHERE p.geonameid = 162627")).ToDictionary(n => n.Name, n => n.Other);
        Assert.False(kinds["Yabroud"]);
        Assert.True(kinds["Jabrud Nova"]);
        Assert.False(kinds.ContainsKey("Jebrud")); // the shipped other name the dump no longer lists
    }

    private static string WithOtherNames(string line, params string[] names)
    {
        var f = line.Split('\t');
        f[3] = string.Join(',', names);
        return string.Join('\t', f);
    }

    /// <summary>
    /// A dump's alternate names are other names (migration 0046): a name that is only an other name of two places
    /// is offered, not taken (422 "Other name of a place" listing both) until a country decides; a place whose own name
    /// it is wins over both, in geocoding and first in search.
    /// </summary>
    [Fact]
    public async Task A_dumps_alternate_names_geocode_below_a_places_own_name()
    {
        var shared = $"Khirbet {Guid.NewGuid():N}"[..24];
        var (syrian, lebanese, own) = (NewPlace("Syria"), NewPlace("Lebanon"), NewPlace("Own"));
        await ImportAsync(Encoding.UTF8.GetBytes(WithOtherNames(Line(syrian.Id, syrian.Name, "SY"), shared, "Other")
                                                 + WithOtherNames(Line(lebanese.Id, lebanese.Name, "LB"), shared)));
        await using var connection = await api.Database.OpenConnectionAsync();
        async Task<long> IdAsync(long geonameid) => await connection.ExecuteScalarAsync<long>("SELECT id FROM places WHERE geonameid = @geonameid", new { geonameid });

        var (offered, _) = await _client.PostAsync(PlaceHelpers.Unlocated(shared));
        var problem = await ProblemAssert.IsProblemAsync(offered, HttpStatusCode.UnprocessableEntity, "properties.location_name");
        Assert.Equal("Other name of a place", problem["title"]!.GetValue<string>());
        Assert.Equal([await IdAsync(syrian.Id), await IdAsync(lebanese.Id)],
            problem["candidates"]!.AsArray().Select(c => c!["id"]!.GetValue<long>()).Order());
        var (inLebanon, body) = await _client.PostAsync(PlaceHelpers.Unlocated(shared, "LB"));
        Assert.Equal(HttpStatusCode.Created, inLebanon.StatusCode);
        Assert.Equal(await IdAsync(lebanese.Id), body!["properties"]!["place_id"]!.GetValue<long>());

        await ImportAsync(Encoding.UTF8.GetBytes(Line(own.Id, shared, "SY")));
        var (named, namedBody) = await _client.PostAsync(PlaceHelpers.Unlocated(shared));
        Assert.Equal(HttpStatusCode.Created, named.StatusCode);
        Assert.Equal(await IdAsync(own.Id), namedBody!["properties"]!["place_id"]!.GetValue<long>());
        var search = (await _client.GetJsonAsync($"/collections/places/items?q={Uri.EscapeDataString(shared)}"))["features"]!.AsArray();
        Assert.Equal(await IdAsync(own.Id), search[0]!["id"]!.GetValue<long>());
        Assert.Equal(3, search.Count(f => f!["properties"]!["match"]!.GetValue<string>() == "exact"));
    }

    /// <summary>
    /// An editor may add a place under a name a GeoNames place within 1 km has only among its other names (review: a 409
    /// said a second copy would make the name ambiguous, but the editor's own name wins over other names), and
    /// geocoding then finds the editor's place by it without a country.
    /// </summary>
    [Fact]
    public async Task An_editor_may_add_a_place_named_as_a_nearby_places_other_name()
    {
        var shared = $"Hay {Guid.NewGuid():N}"[..20];
        var geonames = NewPlace("GeoNames");
        await ImportAsync(Encoding.UTF8.GetBytes(WithOtherNames(Line(geonames.Id, geonames.Name, "SY"), shared)));

        var editors = await _client.AddPlaceAsync(shared, 36.8, 34.9, "SY", null, "suburb");

        var (response, body) = await _client.PostAsync(PlaceHelpers.Unlocated(shared));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(editors, body!["properties"]!["place_id"]!.GetValue<long>());
    }

    /// <summary>
    /// A place's alternate name that a dump lists becomes an other name when the dump is imported again: an import of
    /// before migration 0046 made a dump's alternate names own names, and one ("Homs" of Al Khums) kept making a name
    /// ambiguous. Names the dump does not list stay the place's own.
    /// </summary>
    [Fact]
    public async Task A_dumps_alternate_names_stop_being_own_names_when_it_is_imported_again()
    {
        var place = NewPlace("Again");
        var (listed, kept) = ($"Listed {Guid.NewGuid():N}"[..20], $"Kept {Guid.NewGuid():N}"[..18]);
        await ImportAsync(Encoding.UTF8.GetBytes(Line(place.Id, place.Name, "SY")));
        await using var connection = await api.Database.OpenConnectionAsync();
        // As an import of before 0046 left it: the dump's alternate names among the own names.
        await connection.ExecuteAsync("UPDATE places SET alternate_names = @names WHERE geonameid = @id", new { names = new[] { listed, kept }, id = place.Id });

        await ImportAsync(Encoding.UTF8.GetBytes(WithOtherNames(Line(place.Id, place.Name, "SY"), listed)));

        Assert.Equal([kept], await connection.ExecuteScalarAsync<string[]>("SELECT alternate_names FROM places WHERE geonameid = @id", new { id = place.Id }));
        Assert.Equal([listed], await connection.ExecuteScalarAsync<string[]>("SELECT other_names FROM places WHERE geonameid = @id", new { id = place.Id }));
    }

    /// <summary>
    /// An other name with an admin1 that none of its places lies in is still only offered, even when one of them has
    /// no admin1 (review: it was "Ambiguous place", and "add admin1" there could never take a place without one).
    /// </summary>
    [Fact]
    public async Task An_other_name_with_an_admin1_none_of_its_places_has_is_still_only_offered()
    {
        var shared = $"Mazraa {Guid.NewGuid():N}"[..23];
        var (first, second) = (NewPlace("First"), NewPlace("Second"));
        await ImportAsync(Encoding.UTF8.GetBytes(WithOtherNames(Line(first.Id, first.Name, "SY"), shared) + WithOtherNames(Line(second.Id, second.Name, "SY"), shared)));
        await using (var connection = await api.Database.OpenConnectionAsync())
            await connection.ExecuteAsync("UPDATE places SET admin1 = NULL WHERE geonameid = @id", new { id = second.Id });
        var feature = PlaceHelpers.Unlocated(shared);
        feature["properties"]!["admin1"] = "Tartus";

        var (response, _) = await _client.PostAsync(feature);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, "properties.location_name");
        Assert.Equal("Other name of a place", problem["title"]!.GetValue<string>());
        Assert.Equal(2, problem["candidates"]!.AsArray().Count);
    }

    /// <summary>
    /// A place's own name wins before admin1 judges: with an admin1 that only a place having the name among its other
    /// names lies in, the answer is the 422 naming the place whose name it is, never the other place silently (review:
    /// "Rivne" with a wrong admin1 was the village whose old name it is).
    /// </summary>
    [Fact]
    public async Task An_admin1_does_not_make_an_other_name_win_over_a_places_own_name()
    {
        var shared = $"Tell {Guid.NewGuid():N}"[..21];
        var (own, other) = (NewPlace("Own"), NewPlace("Other"));
        var inDamascus = WithOtherNames(Line(other.Id, other.Name, "SY"), shared).Split('\t');
        inDamascus[10] = "13"; // Damascus Governorate; Line's own code 11 is Homs
        await ImportAsync(Encoding.UTF8.GetBytes(Line(own.Id, shared, "SY") + string.Join('\t', inDamascus)));
        var feature = PlaceHelpers.Unlocated(shared);
        feature["properties"]!["admin1"] = "Damascus Governorate";

        var (response, _) = await _client.PostAsync(feature);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, "properties.location_name");
        Assert.Equal("Place not in admin1", problem["title"]!.GetValue<string>());
        Assert.Equal([shared], problem["candidates"]!.AsArray().Select(c => c!["name"]!.GetValue<string>()));
    }

    /// <summary>A dump's name holding a control character is a malformed line (as an editor's place would be refused); such alternate names are left out.</summary>
    [Fact]
    public async Task A_dump_line_whose_name_holds_a_control_character_is_skipped_and_such_alternate_names_are_left_out()
    {
        var (bad, good) = (NewPlace("Bad"), NewPlace("Good"));
        var line = Line(good.Id, good.Name, "SY").Split('\t');
        line[3] = "Kept spelling,Bell\u0007name";
        var dump = Line(bad.Id, bad.Name + "\u001b[31m", "SY") + string.Join('\t', line);

        var result = await ImportAsync(Encoding.UTF8.GetBytes(dump));

        Assert.Equal((2, 1, 1), (result.Read, result.Imported, result.Skipped));
        Assert.Null(await StoredNameAsync(bad.Id));
        await using var connection = await api.Database.OpenConnectionAsync();
        Assert.Equal(["Kept spelling"], await connection.ExecuteScalarAsync<string[]>("SELECT other_names FROM places WHERE geonameid = @id", new { id = good.Id }));
    }

    /// <summary>Homs, Syria as the shipped gazetteer has it (GeoNames 169577, PPLA).</summary>
    private const long HomsCity = 169577;

    private async Task<long?> PlaceIdAsync(long geonameid)
    {
        await using var connection = await api.Database.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<long?>("SELECT id FROM places WHERE geonameid = @geonameid", new { geonameid });
    }

    /// <summary>
    /// The gazetteer is of populated places: a dump's administrative areas (class A) are skipped, counted
    /// among the skipped lines. SY.txt's governorate "Muhafazat Hims" (alternate name Homs) made "Homs" in SY
    /// ambiguous for geocoding and for near=, and its country line named incidents "Syrian Arab Republic".
    /// </summary>
    [Fact]
    public async Task Administrative_areas_are_skipped_so_Homs_in_Syria_stays_the_city()
    {
        var town = NewPlace("Town");
        var dump =
            "169575\tMuhafazat Hims\tMuhafazat Hims\tHims,Homs,Homs Governorate,Muhafazat Hims\t34.5\t37.75\tA\tADM1\tSY\t\t11\t\t\t\t1803000\t\t\tAsia/Damascus\t2024-01-01\n" +
            "9000003\tSyrian Arab Republic\tSyrian Arab Republic\tSyria,Sūriyā\t35.0\t38.0\tA\tPCLI\tSY\t\t00\t\t\t\t22933531\t\t\tAsia/Damascus\t2024-01-01\n" +
            Line(town.Id, town.Name, "SY");

        var result = await ImportAsync(Encoding.UTF8.GetBytes(dump));

        Assert.Equal((3, 1, 2, 0), (result.Read, result.Imported, result.Skipped, result.EditorsPlaces));
        Assert.Null(await StoredNameAsync(169575));
        Assert.Null(await StoredNameAsync(9000003));
        Assert.Equal(town.Name, await StoredNameAsync(town.Id));

        var (response, body) = await _client.PostAsync(PlaceHelpers.Unlocated("Homs", "SY"));
        Assert.True(response.StatusCode == HttpStatusCode.Created, body?.ToJsonString());
        Assert.Equal(await PlaceIdAsync(HomsCity), body!["properties"]!["place_id"]!.GetValue<long>());
        await _client.GetJsonAsync("/collections/incidents/items?near=Homs&country=SY&radius=1km"); // asserts the 200 (it was a 400: ambiguous)
        var search = await _client.GetJsonAsync("/collections/places/items?q=Homs&country=SY");
        Assert.Equal(await PlaceIdAsync(HomsCity), search["features"]![0]!["id"]!.GetValue<long>());

        // The country's centre names no incident after the country.
        var (atCentre, centre) = await _client.PostAsync(Features.Valid(geometry: Features.Point(38.0, 35.0)));
        Assert.Equal(HttpStatusCode.Created, atCentre.StatusCode);
        Assert.NotEqual("Syrian Arab Republic", centre!["properties"]!["location_name"]?.GetValue<string>());
    }

    /// <summary>
    /// An editor's place wins: a dump line with a name of one within 1 km (its name or an alternate, either side)
    /// in its country is skipped and counted, as POST /collections/places refuses that second copy; a second
    /// copy made geocoding the editor's name ambiguous for good. A line's alternate names are other names now
    /// (migration 0046), which geocoding ranks below the editor's, but the line is still skipped: a second point within
    /// 1 km would take reverse geocoding from the editor's place (review). Farther away, or in another country, it is another place.
    /// </summary>
    [Fact]
    public async Task A_dump_line_naming_an_editors_place_within_1_km_is_skipped_and_counted()
    {
        var suffix = Guid.NewGuid().ToString("N")[..6];
        var (name, alternate) = ($"Qaryat Zulfa {suffix}", $"Zulfa village {suffix}");
        var editors = await _client.AddPlaceAsync(name, 36.40, 33.40, "SY", "Rif Dimashq", "village", alternate);
        var (same, byAlternate, otherCountry, far) = (NewPlace("Same").Id, NewPlace("Alternate").Id, NewPlace("Other").Id, NewPlace("Far").Id);
        var dump =
            $"{same}\t{name}\t{name}\tZulfa {suffix}\t33.4010\t36.4010\tP\tPPL\tSY\t\t08\t\t\t\t1200\t\t\tAsia/Damascus\t2024-01-01\n" +
            $"{byAlternate}\tTall Zulfa {suffix}\tTall Zulfa {suffix}\t{alternate}\t33.4050\t36.3950\tP\tPPL\tSY\t\t08\t\t\t\t300\t\t\tAsia/Damascus\t2024-01-01\n" +
            $"{otherCountry}\t{name}\t{name}\t\t33.4010\t36.4010\tP\tPPL\tLB\t\t08\t\t\t\t300\t\t\tAsia/Beirut\t2024-01-01\n";

        var result = await ImportAsync(Encoding.UTF8.GetBytes(dump));

        Assert.Equal((3, 1, 2, 2), (result.Read, result.Imported, result.Skipped, result.EditorsPlaces));
        Assert.Null(await StoredNameAsync(same));
        Assert.Null(await StoredNameAsync(byAlternate));
        Assert.Equal(name, await StoredNameAsync(otherCountry));
        var geocoded = PlaceHelpers.Unlocated(name, "SY");
        geocoded["properties"]!["admin1"] = "Rif Dimashq";
        var (response, body) = await _client.PostAsync(geocoded);
        Assert.True(response.StatusCode == HttpStatusCode.Created, body?.ToJsonString());
        Assert.Equal(editors, body!["properties"]!["place_id"]!.GetValue<long>());

        // 5 km away it is another place of that name, and the command says what it skipped.
        var folder = Directory.CreateTempSubdirectory("geonames-");
        try
        {
            var file = Path.Combine(folder.FullName, "SY.txt");
            await File.WriteAllTextAsync(file, dump.Replace($"{otherCountry}\t", $"{far}\t").Replace("33.4010\t36.4010\tP\tPPL\tLB", "33.4450\t36.4010\tP\tPPL\tSY"));

            var (exit, stdout, stderr) = await ServiceProcess.RunAsync(null, "places", "import", file);

            Assert.True(exit == 0, $"exit {exit}\n{stderr}");
            Assert.Equal("3 lines read, 1 places imported, 2 skipped: 0 not a populated place (feature class P) or malformed, 2 an editor's place (a name of it within 1 km), 0 replaced by a later line of the same place (geonameid)",
                stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
            Assert.Equal(name, await StoredNameAsync(far));
            Assert.Null(await StoredNameAsync(same));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>
    /// A place's admin1 is its first-level division named by the line's admin1 code (column 10), as the shipped
    /// places name it: Jobar, a district of Damascus city (SY 13), took "Rif-dimashq" from the nearest known place,
    /// and reverse geocoding stamped that on incidents there. A code the list lacks (GeoNames' 00) falls back to
    /// the nearest place's for a new place, and leaves a known place's as it is.
    /// </summary>
    [Fact]
    public async Task A_places_admin1_is_the_division_its_code_names()
    {
        var jobar = NewPlace("Jobar");
        string JobarLine(string code) =>
            $"{jobar.Id}\t{jobar.Name}\t{jobar.Name}\t\t33.5333\t36.3333\tP\tPPLX\tSY\t\t{code}\t\t\t\t0\t\t\tAsia/Damascus\t2024-01-01\n";
        await using var connection = await api.Database.OpenConnectionAsync();
        const string Nearest = """
            SELECT admin1 FROM places WHERE country = 'SY' AND admin1 IS NOT NULL
            ORDER BY geom <-> ST_SetSRID(ST_MakePoint(36.3333, 33.5333), 4326) LIMIT 1
            """;
        async Task<string?> Admin1Async() =>
            await connection.ExecuteScalarAsync<string?>("SELECT admin1 FROM places WHERE geonameid = @id", new { id = jobar.Id });

        var nearest = await connection.ExecuteScalarAsync<string>(Nearest);
        await ImportAsync(Encoding.UTF8.GetBytes(JobarLine("00")));
        Assert.Equal(nearest, await Admin1Async());

        await ImportAsync(Encoding.UTF8.GetBytes(JobarLine("13")));
        Assert.Equal("Damascus Governorate", await Admin1Async());
        await ImportAsync(Encoding.UTF8.GetBytes(JobarLine("00")));
        Assert.Equal("Damascus Governorate", await Admin1Async());

        // An incident at Jobar is named after it, in its division.
        var (response, body) = await _client.PostAsync(Features.Valid(geometry: Features.Point(36.3333, 33.5333)));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal((jobar.Name, "Damascus Governorate"),
            (body!["properties"]!["location_name"]!.GetValue<string>(), body["properties"]!["admin1"]!.GetValue<string>()));
    }

    /// <summary>A line with column <paramref name="column"/> set to <paramref name="value"/>.</summary>
    private static string With(string line, int column, string value)
    {
        var f = line.Split('\t');
        f[column] = value;
        return string.Join('\t', f);
    }

    /// <summary>
    /// A line the places table would refuse (its CHECKs) is skipped as malformed and counted, the rest imported: one such
    /// line failed the whole import with PostgreSQL's error (places_population_check, places_name_check,
    /// places_country_check, 22003 integer out of range for a NaN latitude), a NaN point was stored when no editor's
    /// place was near, and a population beyond the integer column was stored as 0.
    /// </summary>
    [Theory]
    [InlineData(14, "-5")]
    [InlineData(14, "3000000000")]
    [InlineData(14, "12.5")]
    [InlineData(1, "long")]
    [InlineData(1, "   ")]
    [InlineData(8, "S1")]
    [InlineData(8, "SYR")]
    [InlineData(4, "NaN")]
    [InlineData(5, "-Infinity")]
    [InlineData(4, "90.5")]
    [InlineData(3, "Nul\0name")]
    public async Task A_line_the_places_table_would_refuse_is_skipped_as_malformed_and_counted(int column, string value)
    {
        var (bad, good) = (NewPlace("Malformed"), NewPlace("Good"));
        var line = With(Line(bad.Id, bad.Name, "SY"), column, value == "long" ? "Qarya " + new string('x', 195) : value);

        var result = await ImportAsync(Encoding.UTF8.GetBytes(line + Line(good.Id, good.Name, "SY")));

        Assert.Equal((2, 1, 1), (result.Read, result.Imported, result.Skipped));
        Assert.Null(await StoredNameAsync(bad.Id));
        Assert.Equal(good.Name, await StoredNameAsync(good.Id));
    }

    /// <summary>The name's limit is the table's: 200 characters (not UTF-16 units) without the spaces around it; a lower-case country is read as upper case.</summary>
    [Fact]
    public async Task A_name_of_200_characters_with_spaces_around_it_and_a_lower_case_country_import()
    {
        var place = NewPlace("Longest");
        var name = "  " + string.Concat(Enumerable.Repeat("\U0001D4D0", 200)) + "  ";

        var result = await ImportAsync(Encoding.UTF8.GetBytes(With(Line(place.Id, place.Name, "sy"), 1, name)));

        Assert.Equal((1, 1, 0), (result.Read, result.Imported, result.Skipped));
        Assert.Equal(name, await StoredNameAsync(place.Id));
    }

    /// <summary>
    /// A line that is not UTF-8 (a Latin-1 "Café") is skipped as malformed, as an import's row is rejected: it was stored
    /// with U+FFFD in its name. A byte order mark and CRLF line ends are read as before; a file of no UTF-8 line is refused saying so.
    /// </summary>
    [Fact]
    public async Task A_line_that_is_not_UTF8_is_skipped_as_malformed()
    {
        var (latin1, good, first) = (NewPlace("Latin"), NewPlace("Good"), NewPlace("First"));
        var bytes = new List<byte>([0xEF, 0xBB, 0xBF]);
        bytes.AddRange(Encoding.UTF8.GetBytes(Line(first.Id, first.Name, "SY").Replace("\n", "\r\n")));
        bytes.AddRange(Encoding.Latin1.GetBytes(Line(latin1.Id, latin1.Name + " Café", "SY")));
        bytes.AddRange(Encoding.UTF8.GetBytes(Line(good.Id, good.Name + " Café", "SY")));

        var result = await ImportAsync([.. bytes]);

        Assert.Equal((3, 2, 1), (result.Read, result.Imported, result.Skipped));
        Assert.Null(await StoredNameAsync(latin1.Id));
        Assert.Equal(first.Name, await StoredNameAsync(first.Id));
        Assert.Equal(good.Name + " Café", await StoredNameAsync(good.Id));

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => ImportAsync(Encoding.Latin1.GetBytes(Line(latin1.Id, latin1.Name + " Café", "SY"))));
        Assert.EndsWith("(1 of them is not UTF-8: GeoNames dumps are; save the file as UTF-8)", error.Message);
    }

    /// <summary>
    /// A place a later line names again (the same geonameid) is imported as the later line has it, and the earlier line
    /// is counted among the skipped: the command's numbers add up to the lines read ("8 lines read, 3 places imported,
    /// 4 skipped" left one out).
    /// </summary>
    [Fact]
    public async Task A_place_named_twice_is_counted_so_the_numbers_add_up()
    {
        var (twice, other) = (NewPlace("Twice"), NewPlace("Other"));
        var folder = Directory.CreateTempSubdirectory("geonames-");
        try
        {
            var file = Path.Combine(folder.FullName, "SY.txt");
            await File.WriteAllTextAsync(file, Line(twice.Id, twice.Name, "SY") + Line(other.Id, other.Name, "SY") + Line(twice.Id, twice.Name + " later", "SY")
                                                + With(Line(other.Id + 1, "Big", "SY"), 14, "3000000000"));

            var (exit, stdout, stderr) = await ServiceProcess.RunAsync(null, "places", "import", file);

            Assert.True(exit == 0, $"exit {exit}\n{stderr}");
            Assert.Equal("4 lines read, 2 places imported, 2 skipped: 1 not a populated place (feature class P) or malformed, 0 an editor's place (a name of it within 1 km), 1 replaced by a later line of the same place (geonameid)",
                stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
            Assert.Equal(twice.Name + " later", await StoredNameAsync(twice.Id));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>
    /// A zip entry is checked against the archive's CRC-32 to its end: one stored uncompressed with a byte changed in
    /// transfer (unzip -t: bad CRC) imported its wrong coordinate silently. It fails naming the entry, and nothing is written.
    /// </summary>
    [Fact]
    public async Task A_zip_entry_whose_CRC_does_not_match_is_refused_naming_it_and_nothing_is_written()
    {
        var (kept, changed) = (NewPlace("Kept"), NewPlace("Changed"));
        var text = Line(kept.Id, kept.Name, "SY") + Line(changed.Id, changed.Name, "SY").Replace("\t34.9\t", "\t34.7\t");
        var packed = new MemoryStream();
        using (var archive = new ZipArchive(packed, ZipArchiveMode.Create, leaveOpen: true))
        await using (var entry = archive.CreateEntry("SY.txt", CompressionLevel.NoCompression).Open())
            await entry.WriteAsync(Encoding.UTF8.GetBytes(text));
        var zip = packed.ToArray();
        var at = zip.AsSpan().IndexOf(Encoding.UTF8.GetBytes("\t34.7\t"));
        Assert.True(at > 0, "the entry is stored uncompressed");
        zip[at + 4] = (byte)'1'; // 34.1: still a place, at another point

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => ImportAsync(zip));

        Assert.Matches("^input/SY.txt: the entry's CRC-32 is [0-9a-f]{8} where the archive says [0-9a-f]{8}: the archive is corrupt", error.Message);
        Assert.Null(await StoredNameAsync(kept.Id));
        Assert.Null(await StoredNameAsync(changed.Id));

        zip[at + 4] = (byte)'7';
        var whole = await ImportAsync(zip);
        Assert.Equal((2, 2), (whole.Read, whole.Imported));
    }
}
