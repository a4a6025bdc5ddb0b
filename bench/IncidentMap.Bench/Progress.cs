namespace IncidentMap.Bench;

/// <summary>Progress goes to standard error, so standard output carries only the results.</summary>
public static class Progress
{
    public static void Say(string message) => Console.Error.WriteLine($"[bench {DateTime.Now:HH:mm:ss}] {message}");
}
