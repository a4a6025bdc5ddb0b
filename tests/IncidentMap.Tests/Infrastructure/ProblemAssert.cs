using System.Net;
using System.Text.Json.Nodes;

namespace IncidentMap.Tests.Infrastructure;

public static class ProblemAssert
{
    /// <summary>Asserts an RFC 9457 answer with the status and, when given, an error naming <paramref name="field"/>.</summary>
    public static async Task<JsonObject> IsProblemAsync(HttpResponseMessage response, HttpStatusCode status, string? field = null)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(text)!.AsObject();
        Assert.Equal((int)status, problem["status"]!.GetValue<int>());
        Assert.False(string.IsNullOrWhiteSpace(problem["title"]?.GetValue<string>()));
        // Every problem names its type: the RFC section of its status, or one of ours.
        Assert.True(problem["type"]?.GetValue<string>() is { Length: > 0 }, $"no type: {text}");
        if (field is not null)
        {
            var fields = problem["errors"]?.AsArray().Select(e => e!["field"]!.GetValue<string>()).ToList() ?? [];
            Assert.True(fields.Contains(field), $"no error names '{field}': {text}");
            if (fields.Count == 1) Assert.Contains(field, problem["detail"]!.GetValue<string>());
        }
        return problem;
    }
}
