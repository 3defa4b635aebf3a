using Parley.Abstractions.Audio;

namespace Parley.Core.Providers;

/// <summary>
/// A queued piece of a recognition stream's input: 16 kHz mono PCM16 in a buffer rented from
/// <see cref="AudioBufferPool.Shared"/>, or (no buffer) the end of the current utterance. The vendor that reads it
/// calls <see cref="Return"/> once it has used the samples.
/// </summary>
public readonly struct AudioPiece
{
    private readonly short[]? _buffer;

    private AudioPiece(short[] buffer, int length)
    {
        _buffer = buffer;
        Length = length;
    }

    /// <summary>The end of the current utterance (a final result for it is due).</summary>
    public static AudioPiece EndOfUtterance => default;

    public bool IsEndOfUtterance => _buffer is null;

    public int Length { get; }

    public ReadOnlySpan<short> Samples => _buffer.AsSpan(0, Length);

    public ReadOnlyMemory<short> Memory => _buffer.AsMemory(0, Length);

    /// <summary>Copies <paramref name="samples"/> into a pooled buffer.</summary>
    public static AudioPiece CopyOf(ReadOnlySpan<short> samples)
    {
        var buffer = AudioBufferPool.Shared.Rent(Math.Max(samples.Length, 1));
        samples.CopyTo(buffer);
        return new AudioPiece(buffer, samples.Length);
    }

    public void Return()
    {
        if (_buffer is not null)
        {
            AudioBufferPool.Shared.Return(_buffer);
        }
    }
}
