using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Parley.Providers.Azure;

/// <summary>
/// The Speech service's WebSocket message framing: text messages are HTTP-like headers (<c>Path</c>,
/// <c>X-RequestId</c>, <c>X-Timestamp</c>, <c>Content-Type</c>), a blank line and a body; binary messages start with
/// a 2-byte big-endian header length, then the ASCII headers, then the body (audio).
/// </summary>
internal static class AzureSpeechFraming
{
    /// <summary>The 44-byte RIFF/WAV header of 16 kHz mono PCM16 of unknown length (the first audio message of a turn).</summary>
    public static readonly byte[] WavHeader = BuildWavHeader();

    public static string Timestamp(DateTimeOffset now) => now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    public static byte[] Text(string path, string? requestId, DateTimeOffset now, string contentType, string body)
    {
        var text = new StringBuilder()
            .Append("Path: ").Append(path).Append("\r\n");
        if (requestId is not null)
        {
            text.Append("X-RequestId: ").Append(requestId).Append("\r\n");
        }

        text.Append("X-Timestamp: ").Append(Timestamp(now)).Append("\r\n")
            .Append("Content-Type: ").Append(contentType).Append("\r\n\r\n")
            .Append(body);
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary>Writes an audio message (headers, then <paramref name="body"/>) into <paramref name="target"/>; returns its length.</summary>
    public static int Audio(Span<byte> target, string requestId, DateTimeOffset now, ReadOnlySpan<byte> body)
    {
        var headers = "Path: audio\r\nX-RequestId: " + requestId + "\r\nX-Timestamp: " + Timestamp(now) + "\r\nContent-Type: audio/x-wav";
        var length = Encoding.ASCII.GetBytes(headers, target[2..]);
        BinaryPrimitives.WriteUInt16BigEndian(target, (ushort)length);
        body.CopyTo(target[(2 + length)..]);
        return 2 + length + body.Length;
    }

    /// <summary>Room for the headers of an audio message.</summary>
    public const int AudioHeaderRoom = 256;

    /// <summary>Splits a text message into its Path, X-RequestId and body.</summary>
    public static (string Path, string? RequestId, ReadOnlyMemory<byte> Body) ParseText(ReadOnlyMemory<byte> message)
    {
        var span = message.Span;
        var split = span.IndexOf("\r\n\r\n"u8);
        var headerEnd = split < 0 ? span.Length : split;
        var bodyStart = split < 0 ? span.Length : split + 4;
        string path = "", requestId = null!;
        foreach (var line in Encoding.UTF8.GetString(span[..headerEnd]).Split("\r\n"))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                continue;
            }

            var name = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            if (name.Equals("Path", StringComparison.OrdinalIgnoreCase))
            {
                path = value;
            }
            else if (name.Equals("X-RequestId", StringComparison.OrdinalIgnoreCase))
            {
                requestId = value;
            }
        }

        return (path, requestId, message[bodyStart..]);
    }

    private static byte[] BuildWavHeader()
    {
        var h = new byte[44];
        "RIFF"u8.CopyTo(h);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(4), 0); // unknown length (streaming)
        "WAVE"u8.CopyTo(h.AsSpan(8));
        "fmt "u8.CopyTo(h.AsSpan(12));
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(16), 16);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(20), 1); // PCM
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(22), 1); // mono
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(24), 16000);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(28), 32000);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(32), 2);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(34), 16);
        "data"u8.CopyTo(h.AsSpan(36));
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(40), 0);
        return h;
    }
}
