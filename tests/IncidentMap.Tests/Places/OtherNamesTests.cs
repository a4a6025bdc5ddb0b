using System.IO.Compression;
using IncidentMap.Api.Places;

namespace IncidentMap.Tests.Places;

/// <summary>Which of GeoNames' alternate names the gazetteer keeps as a place's other names (migration 0046).</summary>
public sealed class OtherNamesTests
{
    [Theory]
    [InlineData("Tombouctou", true)]
    [InlineData("Madīnat Ḩalab", true)]
    [InlineData("Kh'oms", true)]
    [InlineData("Qaşr Za‘farān", true)]
    [InlineData("Al-Chums", true)]
    [InlineData("حمص", true)]
    [InlineData("الخمس، لیبی", true)]       // Arabic script, with the Arabic comma
    [InlineData("Dimashk al-Sham", true)]   // a capital somewhere is enough
    [InlineData("su er te", false)]         // machine romanisations are lower case
    [InlineData("hlb", false)]
    [InlineData("ALP", false)]              // a code
    [InlineData("SRX1", false)]
    [InlineData("hlb\u060C", false)]        // an Arabic comma is no Arabic letter (review)
    [InlineData("hlb\u0661", false)]        // nor an Arabic digit
    [InlineData("hlb\uFEFF", false)]        // nor a byte order mark
    [InlineData("Хомс", false)]             // other scripts
    [InlineData("アレッポ", false)]
    [InlineData("Homs\u0007", false)]       // a control character
    [InlineData("", false)]
    [InlineData("1234567", false)]
    public void Keeps_latin_and_arabic_names_and_leaves_out_romanisations_codes_and_other_scripts(string name, bool kept) =>
        Assert.Equal(kept, OtherNames.Keep(name));

    [Fact]
    public void A_list_keeps_each_name_once_in_order_without_the_places_own() =>
        Assert.Equal(["Emesa", "Khoms", "Tell Emesa"], OtherNames.From("Homs, Emesa,,Khoms,Emesa,khoms,Хомс, Tell Emesa ,Jabal\u0085", "Homs"));

    /// <summary>db/gazetteer/build.mjs applies the rule in JavaScript: the shipped file holds nothing the service would leave out.</summary>
    [Fact]
    public void The_shipped_gazetteers_other_names_follow_the_rule()
    {
        using var reader = new StreamReader(new GZipStream(File.OpenRead(Path.Combine(AppContext.BaseDirectory, "gazetteer", "places.tsv.gz")), CompressionMode.Decompress));
        Assert.EndsWith("\tother_names", reader.ReadLine());
        int places = 0, named = 0, names = 0;
        while (reader.ReadLine() is { } line)
        {
            var f = line.Split('\t');
            Assert.Equal(10, f.Length);
            places++;
            if (f[9].Length == 0) continue;
            named++;
            var list = f[9].Split(',');
            names += list.Length;
            Assert.Equal(list, OtherNames.From(f[9], f[1]));
        }
        Assert.Equal(135_233, places);
        Assert.InRange(named, 70_000, places);
        Assert.InRange(names, 200_000, 300_000);
    }
}
