namespace IncidentMap.Tests.Infrastructure;

/// <summary>
/// A seed made from values, the same in every process. <see cref="HashCode.Combine{T1, T2}"/> is not:
/// .NET randomises it per process, so a test seeded with it draws other data on every run (a flaky
/// minimum count in CI, a fuzz failure that its seed does not reproduce).
/// </summary>
public static class Seed
{
    /// <summary>FNV-1a over the values' bits.</summary>
    public static int Of(params double[] values)
    {
        var hash = 2166136261u;
        foreach (var value in values)
        {
            var bits = (ulong)BitConverter.DoubleToInt64Bits(value);
            for (var i = 0; i < 8; i++, bits >>= 8) hash = (hash ^ (byte)bits) * 16777619u;
        }
        return (int)hash;
    }
}
