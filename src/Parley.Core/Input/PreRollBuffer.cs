namespace Parley.Core.Input;

/// <summary>
/// A fixed ring of the latest audio, addressed by absolute sample position, so an utterance can be streamed to the
/// recogniser from before the VAD confirmed it (the pre-roll and the speech the VAD needed to decide). Single writer
/// and reader (the pipeline's push path); nothing is allocated after construction.
/// </summary>
internal sealed class PreRollBuffer
{
    private short[] _ring;
    private long _floor; // positions below this were not held when the ring grew

    public PreRollBuffer(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _ring = new short[capacity];
    }

    /// <summary>The samples it holds at most.</summary>
    public int Capacity => _ring.Length;

    /// <summary>
    /// Grows the ring to <paramref name="capacity"/> keeping every held sample at its position (a reconfiguration that
    /// needs more speech before the start decision; rare, never on the audio path's steady state).
    /// </summary>
    public void Grow(int capacity)
    {
        if (capacity <= _ring.Length)
        {
            return;
        }

        var grown = new short[capacity];
        _floor = Oldest;
        for (var position = _floor; position < Total; position++)
        {
            grown[position % capacity] = _ring[position % _ring.Length];
        }

        _ring = grown;
    }

    /// <summary>Samples written so far (the position after the newest one).</summary>
    public long Total { get; private set; }

    /// <summary>The oldest position still held.</summary>
    public long Oldest => Math.Max(_floor, Total - _ring.Length);

    public void Write(ReadOnlySpan<short> samples)
    {
        if (samples.Length > _ring.Length)
        {
            Total += samples.Length - _ring.Length;
            samples = samples[^_ring.Length..];
        }

        var at = (int)(Total % _ring.Length);
        var first = Math.Min(samples.Length, _ring.Length - at);
        samples[..first].CopyTo(_ring.AsSpan(at));
        samples[first..].CopyTo(_ring);
        Total += samples.Length;
    }

    /// <summary>
    /// The held samples in [<paramref name="from"/>, <paramref name="to"/>) as at most two contiguous pieces (the ring
    /// wraps once); <paramref name="from"/> is raised to <see cref="Oldest"/>. The memory is valid until the next write.
    /// </summary>
    public (ReadOnlyMemory<short> First, ReadOnlyMemory<short> Second) Range(long from, long to)
    {
        from = Math.Max(from, Oldest);
        to = Math.Min(to, Total);
        if (from >= to)
        {
            return default;
        }

        var at = (int)(from % _ring.Length);
        var n = (int)Math.Min(to - from, _ring.Length - at);
        var rest = (int)(to - from) - n;
        return (_ring.AsMemory(at, n), rest > 0 ? _ring.AsMemory(0, rest) : ReadOnlyMemory<short>.Empty);
    }
}
