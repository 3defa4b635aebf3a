using Parley.Abstractions.Media;

namespace Parley.Core.Input;

/// <summary>
/// The agent's played audio, kept as the far-end reference for the input processors and aligned with the user's audio
/// by sample count: a played sample is placed at the user-audio position reached when it was pushed (a gap in playback
/// is silence), and the reference for a piece of user audio is read from the same positions (zeros where nothing was
/// played or the ring has moved on). Thread-safe: playback pushes while the input path reads.
/// </summary>
internal sealed class FarEndReference
{
    private readonly Lock _gate = new();
    private readonly short[] _ring;
    private long _written;
    private long _nearPosition;

    public FarEndReference(int capacity) => _ring = new short[Math.Max(capacity, 1)];

    /// <summary>Adds played samples after those already held (or at the user-audio position, after a pause).</summary>
    public void Push(ReadOnlySpan<short> played)
    {
        lock (_gate)
        {
            if (_written < _nearPosition)
            {
                _written = _nearPosition;
            }

            if (played.Length > _ring.Length)
            {
                _written += played.Length - _ring.Length;
                played = played[^_ring.Length..];
            }

            var at = (int)(_written % _ring.Length);
            var first = Math.Min(played.Length, _ring.Length - at);
            played[..first].CopyTo(_ring.AsSpan(at));
            played[first..].CopyTo(_ring);
            _written += played.Length;
        }
    }

    /// <summary>Fills <paramref name="destination"/> with the reference for the user audio at <paramref name="position"/>.</summary>
    public void Read(long position, Span<short> destination)
    {
        lock (_gate)
        {
            _nearPosition = position + destination.Length;
            var oldest = Math.Max(0, _written - _ring.Length);
            for (var i = 0; i < destination.Length;)
            {
                var p = position + i;
                if (p < oldest || p >= _written)
                {
                    // Nothing played here: zeros up to the next held sample (or the end).
                    var stop = p < oldest ? Math.Min(destination.Length, (int)(oldest - position)) : destination.Length;
                    destination[i..stop].Clear();
                    i = stop;
                    continue;
                }

                var at = (int)(p % _ring.Length);
                var n = (int)Math.Min(Math.Min(destination.Length - i, _written - p), _ring.Length - at);
                _ring.AsSpan(at, n).CopyTo(destination[i..]);
                i += n;
            }
        }
    }
}

/// <summary>
/// The input processors in order, each working in place on the user's audio with the far-end reference. Processors
/// that are <see cref="IDisposable"/> are disposed under the lock they run under (native state is never freed while a
/// piece is processed, and never used after). Runs on the pipeline's push path only.
/// </summary>
internal sealed class AudioInputChain : IDisposable
{
    private readonly Lock _processing = new();
    private readonly IAudioInputProcessor[] _processors;
    private bool _disposed;

    public AudioInputChain(IEnumerable<IAudioInputProcessor>? processors)
    {
        _processors = processors is null ? [] : [.. processors];
        foreach (var p in _processors)
        {
            ArgumentNullException.ThrowIfNull(p, nameof(processors));
        }
    }

    public bool IsEmpty => _processors.Length == 0;

    public void Process(Span<short> nearEnd, ReadOnlySpan<short> farEnd)
    {
        lock (_processing)
        {
            if (_disposed)
            {
                return;
            }

            foreach (var processor in _processors)
            {
                processor.Process(nearEnd, farEnd);
            }
        }
    }

    public void Dispose()
    {
        lock (_processing)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (var processor in _processors)
            {
                (processor as IDisposable)?.Dispose();
            }
        }
    }
}
