using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Parley.Providers.Volcengine;

/// <summary>Message types of Volcengine's V3 binary WebSocket protocol (byte 1, high nibble).</summary>
internal enum VolcMessageType : byte
{
    FullClientRequest = 0b0001,
    AudioOnlyClient = 0b0010,
    FullServerResponse = 0b1001,
    AudioOnlyServer = 0b1011,
    FrontEndResultServer = 0b1100,
    Error = 0b1111,
}

/// <summary>Message-type specific flags (byte 1, low nibble): a sequence number (positive, or negative for the last packet) and/or an event number.</summary>
[Flags]
internal enum VolcFlags : byte
{
    None = 0,
    PositiveSequence = 0b0001,
    Last = 0b0010,
    NegativeSequence = 0b0011,
    WithEvent = 0b0100,
}

/// <summary>The event numbers of the V3 TTS protocols (bidirectional and one-way streaming).</summary>
internal static class VolcEvent
{
    public const int None = 0;
    public const int StartConnection = 1;
    public const int FinishConnection = 2;
    public const int ConnectionStarted = 50;
    public const int ConnectionFailed = 51;
    public const int ConnectionFinished = 52;
    public const int StartSession = 100;
    public const int CancelSession = 101;
    public const int FinishSession = 102;
    public const int SessionStarted = 150;
    public const int SessionCanceled = 151;
    public const int SessionFinished = 152;
    public const int SessionFailed = 153;
    public const int TaskRequest = 200;
    public const int TtsSentenceStart = 350;
    public const int TtsSentenceEnd = 351;
    public const int TtsResponse = 352;

    /// <summary>Connection events carry no session id.</summary>
    public static bool IsConnectionEvent(int e) => e is StartConnection or FinishConnection or ConnectionStarted or ConnectionFailed or ConnectionFinished;

    /// <summary>Server connection events carry the connection id.</summary>
    public static bool CarriesConnectId(int e) => e is ConnectionStarted or ConnectionFailed or ConnectionFinished;
}

/// <summary>
/// One frame of Volcengine's V3 binary protocol (TTS V3 one-way and bidirectional streaming, big-model streaming ASR):
/// a 4-byte header (version 1 | header size in 4-byte words; message type | flags; serialization | compression;
/// reserved), then as the flags say a sequence number (int32) or, for error frames, an error code (uint32); with
/// <see cref="VolcFlags.WithEvent"/> an event number (int32), a session id (size + UTF-8, not on connection events) and
/// for server connection events a connection id; then the payload size (uint32) and payload. Integers are big-endian.
/// <see cref="Payload"/> is already decompressed when the frame said gzip.
/// </summary>
internal readonly record struct VolcFrame(
    VolcMessageType Type,
    VolcFlags Flags,
    bool Json,
    int Event,
    string? SessionId,
    string? ConnectId,
    int Sequence,
    uint ErrorCode,
    ReadOnlyMemory<byte> Payload)
{
    public bool HasEvent => (Flags & VolcFlags.WithEvent) != 0;

    /// <summary>The last packet of a stream: the last flag (ASR) or a negative sequence number.</summary>
    public bool IsLast => (Flags & VolcFlags.Last) != 0 || Sequence < 0;

    public string PayloadText => Encoding.UTF8.GetString(Payload.Span);
}

/// <summary>Writes and reads <see cref="VolcFrame"/>s.</summary>
internal static class VolcCodec
{
    private const byte Version1HeaderSize4 = 0x11;

    /// <summary>
    /// Writes one frame to <paramref name="output"/>. <paramref name="sequence"/> is written when the flags carry one
    /// (the caller passes a negative number with <see cref="VolcFlags.NegativeSequence"/>); <paramref name="gzip"/>
    /// compresses the payload.
    /// </summary>
    public static void Write(
        IBufferWriter<byte> output, VolcMessageType type, VolcFlags flags, bool json, ReadOnlySpan<byte> payload,
        int @event = 0, string? sessionId = null, int sequence = 0, bool gzip = false, uint errorCode = 0)
    {
        var header = output.GetSpan(4);
        header[0] = Version1HeaderSize4;
        header[1] = (byte)(((byte)type << 4) | ((byte)flags & 0x0F));
        header[2] = (byte)(((json ? 1 : 0) << 4) | (gzip ? 1 : 0));
        header[3] = 0;
        output.Advance(4);
        if (type == VolcMessageType.Error)
        {
            WriteUInt32(output, errorCode);
        }
        else if (HasSequence(flags))
        {
            WriteInt32(output, sequence);
        }

        if ((flags & VolcFlags.WithEvent) != 0)
        {
            WriteInt32(output, @event);
            if (!VolcEvent.IsConnectionEvent(@event))
            {
                WriteString(output, sessionId ?? "");
            }
        }

        if (gzip)
        {
            var compressed = new ArrayBufferWriter<byte>(Math.Max(64, payload.Length / 2));
            using (var stream = new GZipStream(new BufferWriterStream(compressed), CompressionLevel.Fastest))
            {
                stream.Write(payload);
            }

            WriteUInt32(output, (uint)compressed.WrittenCount);
            output.Write(compressed.WrittenSpan);
        }
        else
        {
            WriteUInt32(output, (uint)payload.Length);
            output.Write(payload);
        }
    }

    /// <summary>
    /// Parses one whole WebSocket message. Returns null and the reason when it is not a well-formed V3 frame.
    /// <paramref name="inflated"/> receives a gzip payload's decompressed bytes (the frame's payload then points into it).
    /// </summary>
    public static VolcFrame? TryRead(ReadOnlyMemory<byte> message, ArrayBufferWriter<byte> inflated, int maxPayloadBytes, out string? error)
    {
        var data = message.Span;
        error = null;
        if (data.Length < 4)
        {
            error = $"a frame of {data.Length} bytes (at least 4 expected)";
            return null;
        }

        if (data[0] >> 4 != 1)
        {
            error = $"protocol version {data[0] >> 4} (1 expected)";
            return null;
        }

        var headerSize = (data[0] & 0x0F) * 4;
        if (headerSize < 4 || headerSize > data.Length)
        {
            error = $"a header size of {headerSize} bytes";
            return null;
        }

        var type = (VolcMessageType)(data[1] >> 4);
        var flags = (VolcFlags)(data[1] & 0x0F);
        var json = data[2] >> 4 == 1;
        var compression = data[2] & 0x0F;
        if (compression > 1)
        {
            error = $"compression method {compression}";
            return null;
        }

        var offset = headerSize;
        var sequence = 0;
        uint errorCode = 0;
        var ev = 0;
        string? sessionId = null;
        string? connectId = null;
        try
        {
            if (type == VolcMessageType.Error)
            {
                errorCode = BinaryPrimitives.ReadUInt32BigEndian(data[offset..]);
                offset += 4;
            }
            else if (HasSequence(flags))
            {
                sequence = BinaryPrimitives.ReadInt32BigEndian(data[offset..]);
                offset += 4;
            }

            if ((flags & VolcFlags.WithEvent) != 0)
            {
                ev = BinaryPrimitives.ReadInt32BigEndian(data[offset..]);
                offset += 4;
                if (!VolcEvent.IsConnectionEvent(ev))
                {
                    sessionId = ReadString(data, ref offset);
                }

                if (VolcEvent.CarriesConnectId(ev))
                {
                    connectId = ReadString(data, ref offset);
                }
            }

            var size = BinaryPrimitives.ReadUInt32BigEndian(data[offset..]);
            offset += 4;
            if (size > (uint)(data.Length - offset))
            {
                error = $"a payload size of {size} bytes with {data.Length - offset} left";
                return null;
            }

            var payload = message.Slice(offset, (int)size);
            if (compression == 1 && size > 0)
            {
                inflated.ResetWrittenCount();
                using var stream = new GZipStream(new ReadOnlyMemoryStream(payload), CompressionMode.Decompress);
                int read;
                while ((read = stream.Read(inflated.GetSpan(4096))) > 0)
                {
                    inflated.Advance(read);
                    if (inflated.WrittenCount > maxPayloadBytes)
                    {
                        error = $"a payload larger than {maxPayloadBytes} bytes once decompressed";
                        return null;
                    }
                }

                payload = inflated.WrittenMemory;
            }

            return new VolcFrame(type, flags, json, ev, sessionId, connectId, sequence, errorCode, payload);
        }
        catch (ArgumentOutOfRangeException)
        {
            error = "a truncated frame";
            return null;
        }
        catch (InvalidDataException)
        {
            error = "a gzip payload that does not decompress";
            return null;
        }
    }

    private static bool HasSequence(VolcFlags flags) => ((byte)flags & 0b0011) is 0b0001 or 0b0011;

    private static string ReadString(ReadOnlySpan<byte> data, ref int offset)
    {
        var size = BinaryPrimitives.ReadUInt32BigEndian(data[offset..]);
        offset += 4;
        if (size > (uint)(data.Length - offset))
        {
            throw new ArgumentOutOfRangeException(nameof(data));
        }

        var text = Encoding.UTF8.GetString(data.Slice(offset, (int)size));
        offset += (int)size;
        return text;
    }

    private static void WriteInt32(IBufferWriter<byte> output, int value)
    {
        BinaryPrimitives.WriteInt32BigEndian(output.GetSpan(4), value);
        output.Advance(4);
    }

    private static void WriteUInt32(IBufferWriter<byte> output, uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(output.GetSpan(4), value);
        output.Advance(4);
    }

    private static void WriteString(IBufferWriter<byte> output, string value)
    {
        var length = Encoding.UTF8.GetByteCount(value);
        WriteUInt32(output, (uint)length);
        Encoding.UTF8.GetBytes(value, output.GetSpan(length));
        output.Advance(length);
    }

    /// <summary>A write-only stream onto a buffer writer (for GZipStream).</summary>
    private sealed class BufferWriterStream(IBufferWriter<byte> target) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => target.Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer) => target.Write(buffer);
    }

    /// <summary>A read-only stream over memory (for GZipStream).</summary>
    private sealed class ReadOnlyMemoryStream(ReadOnlyMemory<byte> data) : Stream
    {
        private int _position;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => data.Length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = Math.Min(buffer.Length, data.Length - _position);
            data.Span.Slice(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
