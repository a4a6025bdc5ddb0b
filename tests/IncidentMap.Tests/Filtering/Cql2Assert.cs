using IncidentMap.Api.Filtering;

namespace IncidentMap.Tests.Filtering;

internal static class Cql2Assert
{
    public static CompiledFilter Compiles(string filter, string lang = Cql2.TextLanguage)
    {
        var (compiled, error) = Cql2.Compile(filter, lang);
        Assert.True(error is null, $"{filter}: {error}");
        return compiled!;
    }

    /// <summary>The filter is refused at <paramref name="position"/> (-1 for CQL2 JSON) with a message containing <paramref name="message"/>.</summary>
    public static FilterError Fails(string filter, int position, string message, string lang = Cql2.TextLanguage)
    {
        var (compiled, error) = Cql2.Compile(filter, lang);
        Assert.Null(compiled);
        Assert.NotNull(error);
        Assert.Contains(message, error.Message);
        Assert.Equal(position, error.Position);
        return error;
    }
}
