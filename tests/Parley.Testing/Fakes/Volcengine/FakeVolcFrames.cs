// The V3 binary protocol as Volcengine documents it, written for the fakes independently of Parley's codec:
// - "单向流式WebSocket-V3" (docs 6561/1719100): header 0x11 | type<<4|flags | serialization<<4|compression | 0,
//   error frames 0b1111 0000 + uint32 code, events 152/350/351/352; mirrored at
//   github.com/gaoyadianta/run-tracker docs/fangzhou/单向流式websocket-V3-支持复刻-混音mix.md.
// - "双向流式WebSocket-V3" (docs 6561/1329505): events 1/2/50/51/52/100/101/102/150-153/200/350-352, session id
//   after the event for session events, connection id for 50/51/52.
// - Volcengine's demo protocols.py (e.g. the copies indexed as protocols.py with MsgType/MsgTypeFlagBits/EventType):
//   sequence (int32) for flags 0b0001/0b0011, error code for type 0b1111, then event, session id, connect id, payload.
// - Big-model streaming ASR (docs 6561/1354869): full client request 0x11 0x10|seq 0x11 (JSON, gzip), audio-only
//   0x11 0x2x, last packet with negative sequence (flags 0b0011), server response 0b1001 with result.text.
using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Parley.Testing.Fakes.Volcengine;

/// <summary>One parsed frame as the fake saw it.</summary>
public sealed record FakeVolcFrame(int Type, int Flags, int Serialization, int Compression, int Sequence, uint ErrorCode, int Event, string? SessionId, string? ConnectId, byte[] Payload)
{
    public string Text => Encoding.UTF8.GetString(Payload);
}

/// <summary>The fakes' own encoder/decoder of V3 frames (strict: anything off the documented layout throws).</summary>
public static class FakeVolcCodec
{
    public const int FullClientRequest = 0b0001;
    public const int AudioOnlyClient = 0b0010;
    public const int FullServerResponse = 0b1001;
    public const int AudioOnlyServer = 0b1011;
    public const int Error = 0b1111;
    public const int WithEvent = 0b0100;

    public static bool IsConnectionEvent(int e) => e is 1 or 2 or 50 or 51 or 52;

    public static FakeVolcFrame Parse(byte[] data)
    {
        if (data.Length < 8 || data[0] != 0x11 || data[3] != 0)
        {
            throw new InvalidDataException($"bad header {Convert.ToHexString(data.AsSpan(0, Math.Min(4, data.Length)))}");
        }

        int type = data[1] >> 4, flags = data[1] & 0x0F, serialization = data[2] >> 4, compression = data[2] & 0x0F;
        var offset = 4;
        var sequence = 0;
        uint code = 0;
        if (type == Error)
        {
            code = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(offset));
            offset += 4;
        }
        else if ((flags & 0b0011) is 0b0001 or 0b0011)
        {
            sequence = BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(offset));
            offset += 4;
        }

        var ev = 0;
        string? session = null, connect = null;
        if ((flags & WithEvent) != 0)
        {
            ev = BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(offset));
            offset += 4;
            if (!IsConnectionEvent(ev))
            {
                session = ReadString(data, ref offset);
            }

            if (ev is 50 or 51 or 52)
            {
                connect = ReadString(data, ref offset);
            }
        }

        var size = (int)BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(offset));
        offset += 4;
        if (offset + size != data.Length)
        {
            throw new InvalidDataException($"payload size {size} does not match the {data.Length - offset} bytes left");
        }

        var payload = data.AsSpan(offset, size).ToArray();
        if (compression == 1)
        {
            using var input = new GZipStream(new MemoryStream(payload), CompressionMode.Decompress);
            using var output = new MemoryStream();
            input.CopyTo(output);
            payload = output.ToArray();
        }

        return new FakeVolcFrame(type, flags, serialization, compression, sequence, code, ev, session, connect, payload);
    }

    public static byte[] Build(int type, int flags, int serialization, byte[] payload, int sequence = 0, uint errorCode = 0, int ev = 0, string? sessionId = null, string? connectId = null, bool gzip = false)
    {
        using var stream = new MemoryStream();
        stream.Write([0x11, (byte)((type << 4) | flags), (byte)((serialization << 4) | (gzip ? 1 : 0)), 0]);
        Span<byte> four = stackalloc byte[4];
        if (type == Error)
        {
            BinaryPrimitives.WriteUInt32BigEndian(four, errorCode);
            stream.Write(four);
        }
        else if ((flags & 0b0011) is 0b0001 or 0b0011)
        {
            BinaryPrimitives.WriteInt32BigEndian(four, sequence);
            stream.Write(four);
        }

        if ((flags & WithEvent) != 0)
        {
            BinaryPrimitives.WriteInt32BigEndian(four, ev);
            stream.Write(four);
            if (!IsConnectionEvent(ev))
            {
                WriteString(stream, sessionId ?? "");
            }

            if (ev is 50 or 51 or 52)
            {
                WriteString(stream, connectId ?? "");
            }
        }

        if (gzip)
        {
            using var compressed = new MemoryStream();
            using (var z = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
            {
                z.Write(payload);
            }

            payload = compressed.ToArray();
        }

        BinaryPrimitives.WriteUInt32BigEndian(four, (uint)payload.Length);
        stream.Write(four);
        stream.Write(payload);
        return stream.ToArray();
    }

    /// <summary>A server event frame (full-server response, or audio-only for TTSResponse).</summary>
    public static byte[] Event(int ev, string? sessionId, byte[] payload, string? connectId = null) =>
        Build(ev == 352 ? AudioOnlyServer : FullServerResponse, WithEvent, ev == 352 ? 0 : 1, payload, ev: ev, sessionId: sessionId, connectId: connectId);

    public static byte[] ErrorFrame(uint code, string message) =>
        Build(Error, 0, 1, Encoding.UTF8.GetBytes(System.Text.Json.JsonSerializer.Serialize(new { error = message })), errorCode: code);

    private static string ReadString(byte[] data, ref int offset)
    {
        var size = (int)BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(offset));
        offset += 4;
        var text = Encoding.UTF8.GetString(data, offset, size);
        offset += size;
        return text;
    }

    private static void WriteString(Stream stream, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        Span<byte> four = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(four, (uint)bytes.Length);
        stream.Write(four);
        stream.Write(bytes);
    }
}
