using System.Buffers;
using System.Runtime.CompilerServices;

namespace Parley.Providers.Net;

/// <summary>
/// Reads server-sent events (the WHATWG event-stream format) from a stream, as bytes: <see cref="Data"/> is one
/// event's <c>data:</c> lines joined by <c>\n</c>, valid until the next read. Lines end in <c>\n</c>, <c>\r\n</c> or
/// <c>\r</c>; one space after the colon is dropped; comments and other fields (<c>event:</c>, <c>id:</c>,
/// <c>retry:</c>) are skipped, and so is a byte order mark at the start; an event with no data field is not returned (one whose data field is empty is, with
/// an empty <see cref="Data"/>). An event the stream ends in before its blank line is still returned (LLM servers
/// that close right after their last <c>data:</c> line are common).
/// Buffers are pooled and reused for every event, so reading a reply allocates nothing per event; how long a line may
/// grow is the stream's business (<see cref="LineBoundedStream"/> bounds it for the vendor clients).
/// </summary>
public sealed class SseEventReader : IDisposable
{
    private readonly Stream _stream;
    private byte[] _buffer;
    private int _start;
    private int _end;
    private bool _endOfStream;
    private bool _skipLineFeed;
    private bool _started;
    private byte[] _data;
    private int _dataLength;

    public SseEventReader(Stream stream, int initialBytes = 4096)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfLessThan(initialBytes, 16);
        _stream = stream;
        _buffer = ArrayPool<byte>.Shared.Rent(initialBytes);
        _data = ArrayPool<byte>.Shared.Rent(initialBytes);
    }

    /// <summary>The last event's data (its <c>data:</c> values joined by <c>\n</c>).</summary>
    public ReadOnlySpan<byte> Data => _data.AsSpan(0, _dataLength);

    /// <summary>Reads up to the next event: true with <see cref="Data"/> set, false once the stream has ended.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> ReadAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_buffer.Length == 0, this);
        _dataLength = 0;
        while (!TakeEvent())
        {
            if (_endOfStream)
            {
                return EndOfStream();
            }

            MakeRoom();
            var read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                _endOfStream = true;
            }

            _end += read;
        }

        return true;
    }

    public void Dispose()
    {
        if (_buffer.Length == 0)
        {
            return;
        }

        ArrayPool<byte>.Shared.Return(_buffer);
        ArrayPool<byte>.Shared.Return(_data);
        _buffer = [];
        _data = [];
    }

    /// <summary>Consumes the whole lines in the buffer until one ends an event that has data.</summary>
    private bool TakeEvent()
    {
        if (!_started)
        {
            // UTF-8 decoding drops a byte order mark at the start of the stream (the format says so).
            var head = _buffer.AsSpan(0, _end);
            if (head.Length < 3 && !_endOfStream && "\uFEFF"u8.StartsWith(head))
            {
                return false;
            }

            _started = true;
            if (head.StartsWith("\uFEFF"u8))
            {
                _start = 3;
            }
        }

        while (true)
        {
            var pending = _buffer.AsSpan(_start, _end - _start);
            if (_skipLineFeed && !pending.IsEmpty)
            {
                _skipLineFeed = false;
                if (pending[0] == (byte)'\n')
                {
                    _start++;
                    continue;
                }
            }

            var lineEnd = pending.IndexOfAny((byte)'\r', (byte)'\n');
            if (lineEnd < 0)
            {
                if (!_endOfStream || pending.IsEmpty)
                {
                    return false;
                }

                lineEnd = pending.Length; // the stream's last line, without its end
            }
            else
            {
                _skipLineFeed = pending[lineEnd] == (byte)'\r';
            }

            var line = pending[..lineEnd];
            _start += Math.Min(pending.Length, lineEnd + 1);
            if (line.IsEmpty)
            {
                if (_dataLength > 0)
                {
                    _dataLength--; // the last value's "\n"
                    return true;
                }

                continue;
            }

            AddField(line);
        }
    }

    /// <summary>At the end of the stream: an event whose blank line never came is returned too.</summary>
    private bool EndOfStream()
    {
        if (_dataLength == 0)
        {
            return false;
        }

        _dataLength--;
        return true;
    }

    private void AddField(ReadOnlySpan<byte> line)
    {
        var colon = line.IndexOf((byte)':');
        if (colon == 0)
        {
            return; // a comment
        }

        var name = colon < 0 ? line : line[..colon];
        if (!name.SequenceEqual("data"u8))
        {
            return;
        }

        var value = colon < 0 ? default : line[(colon + 1)..];
        if (!value.IsEmpty && value[0] == (byte)' ')
        {
            value = value[1..];
        }

        var needed = _dataLength + value.Length + 1;
        if (needed > _data.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _data.Length * 2));
            _data.AsSpan(0, _dataLength).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_data);
            _data = larger;
        }

        value.CopyTo(_data.AsSpan(_dataLength));
        _dataLength += value.Length;
        _data[_dataLength++] = (byte)'\n';
    }

    /// <summary>Moves the unread bytes to the front, and doubles the buffer when a line fills it.</summary>
    private void MakeRoom()
    {
        var pending = _end - _start;
        if (_start > 0)
        {
            _buffer.AsSpan(_start, pending).CopyTo(_buffer);
            _start = 0;
            _end = pending;
        }

        if (_end == _buffer.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
            _buffer.AsSpan(0, _end).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }
    }
}
