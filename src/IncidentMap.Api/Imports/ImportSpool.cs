namespace IncidentMap.Api.Imports;

/// <summary>
/// The uploads of import jobs, kept in the temporary folder until imported (<see cref="ImportJobs"/>). Each is one
/// open file, written, then read by its job, and deleted as it closes: there is no moment when it exists unopened.
/// A process killed outright (kill -9, the OOM killer) closes nothing and leaves its uploads behind, so the service
/// removes them as it starts. Only those no process holds: .NET locks a file opened with <see cref="FileShare.None"/>
/// (an advisory lock, which the kernel releases when the process dies), so the uploads of another instance running
/// on the same machine are left alone.
/// </summary>
internal static class ImportSpool
{
    // Every upload's name, and nothing else's: the prefix names the service, the extension the purpose.
    private const string Prefix = "incidentmap-import-";
    private const string Extension = ".upload";

    /// <summary>The body in a new upload file, positioned at its start for the job to read; deleted when disposed.</summary>
    public static async Task<FileStream> StoreAsync(Stream body, CancellationToken ct)
    {
        var path = Path.Combine(Path.GetTempPath(), $"{Prefix}{Guid.NewGuid():N}{Extension}");
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew, Access = FileAccess.ReadWrite, Share = FileShare.None, BufferSize = 1 << 16,
            Options = FileOptions.Asynchronous | FileOptions.SequentialScan | FileOptions.DeleteOnClose,
        };
        // The upload is the sender's data, unpublished incidents among them: readable by the service's user
        // alone, not by every user of a shared /tmp (the default mode was 0644).
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        var file = new FileStream(path, options);
        try
        {
            await body.CopyToAsync(file, ct);
            await file.FlushAsync(ct);
            file.Position = 0;
            return file;
        }
        catch
        {
            await file.DisposeAsync();
            throw;
        }
    }

    /// <summary>Deletes the uploads of processes that died (those no process holds open); says how many.</summary>
    public static int RemoveStray()
    {
        var removed = 0;
        foreach (var path in Directory.EnumerateFiles(Path.GetTempPath(), $"{Prefix}*{Extension}"))
        {
            try
            {
                // Refused while a live process has the file open.
                using (new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
                    File.Delete(path);
                removed++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // In use, gone meanwhile, or another user's.
            }
        }
        return removed;
    }
}
