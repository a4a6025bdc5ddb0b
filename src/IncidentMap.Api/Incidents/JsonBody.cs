using System.Text.Json;
using IncidentMap.Api.Problems;
using Microsoft.Net.Http.Headers;

namespace IncidentMap.Api.Incidents;

/// <summary>Reads a JSON request body with the checks every write shares: media type, size, syntax.</summary>
public static class JsonBody
{
    /// <summary>Largest accepted body (documented in the README). Enforced here as well as by Kestrel,
    /// so the limit holds behind any server.</summary>
    public const int MaxBytes = 8 * 1024 * 1024;

    public static async Task<(JsonDocument? Document, IResult? Problem)> ReadAsync(HttpRequest request, string[] mediaTypes, CancellationToken ct)
    {
        var (document, _, problem) = await ReadWithHashAsync(request, mediaTypes, ct);
        return (document, problem);
    }

    /// <summary>As <see cref="ReadAsync"/>, plus the SHA-256 of the body bytes (what an Idempotency-Key is bound to).</summary>
    public static async Task<(JsonDocument? Document, byte[] Hash, IResult? Problem)> ReadWithHashAsync(HttpRequest request, string[] mediaTypes, CancellationToken ct)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType)
            || !mediaTypes.Contains(contentType.MediaType.Value, StringComparer.OrdinalIgnoreCase))
        {
            return (null, [], Problem.Status(StatusCodes.Status415UnsupportedMediaType, "Unsupported media type",
                $"Content-Type '{request.ContentType}' is not accepted here; send {string.Join(" or ", mediaTypes)}.", "Content-Type"));
        }
        if (request.ContentLength > MaxBytes) return (null, [], TooLarge());

        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > MaxBytes) return (null, [], TooLarge());
            buffer.Write(chunk, 0, read);
        }
        if (buffer.Length == 0) return (null, [], Problem.BadParameter("body", "is empty; send a JSON document"));

        var bytes = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        try
        {
            return (JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 64 }), System.Security.Cryptography.SHA256.HashData(bytes.Span), null);
        }
        catch (JsonException e)
        {
            return (null, [], Problem.Status(StatusCodes.Status400BadRequest, "Malformed JSON",
                $"The body is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}).", "body"));
        }
    }

    private static IResult TooLarge() => Problem.Status(StatusCodes.Status413PayloadTooLarge, "Request body too large",
        $"The body exceeds the limit of {MaxBytes} bytes; split it or use a bulk import.", "body");
}
