namespace IncidentMap.Api.Collections;

/// <summary>
/// A number that changes whenever incident data may have changed. Caches (collection extent, tile
/// and list ETags) key on it, so they are revalidated, not recomputed, while nothing changed.
/// </summary>
public sealed class DataVersion
{
    private long _value = DateTime.UtcNow.Ticks;

    public long Current => Interlocked.Read(ref _value);

    public void Advance() => Interlocked.Increment(ref _value);
}
