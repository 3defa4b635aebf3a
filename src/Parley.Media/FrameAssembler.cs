using Parley.Abstractions.Audio;

namespace Parley.Media;

/// <summary>
/// Collects PCM16 pieces of any size and hands them out as fixed-size frames (e.g. 20 ms = 320 samples at
/// 16 kHz). The internal buffer is rented from <see cref="AudioBufferPool.Shared"/> and only grows when a piece
/// larger than anything seen before arrives. Not thread-safe. Dispose returns the buffer.
/// </summary>
public sealed class FrameAssembler : IDisposable
{
    private short[] _buffer;
    private int _start;
    private int _count;

    public FrameAssembler(int frameSamples)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(frameSamples, 1);
        FrameSamples = frameSamples;
        _buffer = AudioBufferPool.Shared.Rent(frameSamples * 4);
    }

    public int FrameSamples { get; }

    /// <summary>Samples waiting that do not yet fill a frame (or several frames not yet read).</summary>
    public int Buffered => _count;

    /// <summary>Number of whole frames ready to read.</summary>
    public int FramesAvailable => _count / FrameSamples;

    public void Write(ReadOnlySpan<short> samples)
    {
        ObjectDisposedException.ThrowIf(_buffer.Length == 0, this);
        if (_start + _count + samples.Length > _buffer.Length)
        {
            if (_count + samples.Length <= _buffer.Length)
            {
                _buffer.AsSpan(_start, _count).CopyTo(_buffer);
            }
            else
            {
                var grown = AudioBufferPool.Shared.Rent(Math.Max(_count + samples.Length, _buffer.Length * 2));
                _buffer.AsSpan(_start, _count).CopyTo(grown);
                AudioBufferPool.Shared.Return(_buffer);
                _buffer = grown;
            }

            _start = 0;
        }

        samples.CopyTo(_buffer.AsSpan(_start + _count));
        _count += samples.Length;
    }

    /// <summary>Copies the next whole frame into <paramref name="frame"/>; false when less than a frame is buffered.</summary>
    public bool TryReadFrame(Span<short> frame)
    {
        CheckFrame(frame);
        if (_count < FrameSamples)
        {
            return false;
        }

        _buffer.AsSpan(_start, FrameSamples).CopyTo(frame);
        Consume(FrameSamples);
        return true;
    }

    /// <summary>
    /// Emits the remaining partial frame padded with silence; false when nothing is buffered. Call
    /// <see cref="TryReadFrame"/> until it returns false first: Flush emits at most one frame.
    /// </summary>
    public bool Flush(Span<short> frame)
    {
        CheckFrame(frame);
        if (_count == 0)
        {
            return false;
        }

        var take = Math.Min(_count, FrameSamples);
        _buffer.AsSpan(_start, take).CopyTo(frame);
        frame[take..FrameSamples].Clear();
        Consume(take);
        return true;
    }

    /// <summary>Drops everything buffered (e.g. on an interruption).</summary>
    public void Clear()
    {
        _start = 0;
        _count = 0;
    }

    public void Dispose()
    {
        if (_buffer.Length != 0)
        {
            AudioBufferPool.Shared.Return(_buffer);
            _buffer = [];
            _count = 0;
            _start = 0;
        }
    }

    private void Consume(int samples)
    {
        _count -= samples;
        _start = _count == 0 ? 0 : _start + samples;
    }

    private void CheckFrame(Span<short> frame)
    {
        ObjectDisposedException.ThrowIf(_buffer.Length == 0, this);
        if (frame.Length < FrameSamples)
        {
            throw new ArgumentException($"The frame buffer holds {frame.Length} samples but a frame is {FrameSamples}.", nameof(frame));
        }
    }
}
