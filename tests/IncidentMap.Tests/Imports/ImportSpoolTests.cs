using IncidentMap.Api.Imports;

namespace IncidentMap.Tests.Imports;

/// <summary>The upload of an import job, spooled to the temporary folder while it waits for its job.</summary>
public sealed class ImportSpoolTests
{
    [Fact]
    public async Task An_upload_is_readable_by_the_services_user_alone_holds_the_body_and_is_gone_once_closed()
    {
        var body = "external_id,title\nspool-1,Only mine\n"u8.ToArray();
        string path;
        await using (var spool = await ImportSpool.StoreAsync(new MemoryStream(body), CancellationToken.None))
        {
            path = spool.Name;
            Assert.StartsWith(Path.GetTempPath(), path);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            Assert.Equal(0, spool.Position);
            var read = new byte[body.Length + 1];
            Assert.Equal(body.Length, await spool.ReadAtLeastAsync(read, read.Length, throwOnEndOfStream: false));
            Assert.Equal(body, read[..body.Length]);
        }
        Assert.False(File.Exists(path));
    }
}
