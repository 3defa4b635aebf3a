namespace Parley.Abstractions.Audio;

/// <summary>
/// A piece of PCM16 audio whose samples live in an array rented from <see cref="AudioBufferPool.Shared"/>.
/// A value type so that passing chunks through bounded channels allocates nothing per frame.
/// Ownership moves with the value: whoever holds it last calls <see cref="Dispose"/> exactly once.
/// </summary>
public readonly struct AudioChunk : IDisposable
{
    private readonly short[]? _buffer;

    public AudioChunk(short[] buffer, int length, int sampleRate)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, buffer.Length);
        _buffer = buffer;
        Length = length;
        SampleRate = sampleRate;
    }

    public int Length { get; }

    public int SampleRate { get; }

    public bool IsEmpty => _buffer is null || Length == 0;

    public ReadOnlySpan<short> Samples => _buffer is null ? default : _buffer.AsSpan(0, Length);

    public ReadOnlyMemory<short> Memory => _buffer is null ? default : _buffer.AsMemory(0, Length);

    public TimeSpan Duration => SampleRate == 0 ? TimeSpan.Zero : TimeSpan.FromSeconds((double)Length / SampleRate);

    /// <summary>Rents a buffer of at least <paramref name="length"/> samples; fill it through <see cref="WritableSpan"/>.</summary>
    public static AudioChunk Rent(int length, int sampleRate) =>
        new(AudioBufferPool.Shared.Rent(Math.Max(length, 1)), length, sampleRate);

    /// <summary>Copies <paramref name="samples"/> into a pooled chunk.</summary>
    public static AudioChunk CopyOf(ReadOnlySpan<short> samples, int sampleRate)
    {
        var chunk = Rent(samples.Length, sampleRate);
        samples.CopyTo(chunk.WritableSpan);
        return chunk;
    }

    /// <summary>The chunk's samples for the owner to fill right after <see cref="Rent"/>.</summary>
    public Span<short> WritableSpan => _buffer is null ? default : _buffer.AsSpan(0, Length);

    /// <summary>The same pooled buffer with only its first <paramref name="length"/> samples; ownership moves to the result.</summary>
    public AudioChunk WithLength(int length)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, Length);
        return _buffer is null ? default : new AudioChunk(_buffer, length, SampleRate);
    }

    public void Dispose()
    {
        if (_buffer is not null)
        {
            AudioBufferPool.Shared.Return(_buffer);
        }
    }
}
