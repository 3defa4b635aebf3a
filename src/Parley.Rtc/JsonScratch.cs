using System.Buffers;
using System.Text.Json;

namespace Parley.Rtc;

/// <summary>
/// Builds small JSON objects (room events, room messages, signalling) with the calling thread's reusable writer and
/// buffer: they are built many times a second per room, and only the resulting bytes (kept by the message) are
/// allocated, not a writer and a growing buffer each time.
/// </summary>
internal sealed class JsonScratch
{
    /// <summary>A buffer that grew beyond this (an unusually large message) is not kept by the thread.</summary>
    public const int MaxKeptBytes = 64 * 1024;

    [ThreadStatic]
    private static JsonScratch? t_current;

    private readonly ArrayBufferWriter<byte> _buffer = new(512);
    private readonly Utf8JsonWriter _writer;

    private JsonScratch() => _writer = new Utf8JsonWriter(_buffer);

    /// <summary>Writes one JSON object with <paramref name="write"/> filling its fields; returns its UTF-8 bytes.</summary>
    public static byte[] Build<TState>(Action<Utf8JsonWriter, TState> write, TState state) => Write(write, state).ToArray();

    /// <summary>
    /// <see cref="Build"/> into an array rented from <see cref="ArrayPool{T}.Shared"/> (its first <c>Length</c> bytes):
    /// the receiver returns it once the bytes are sent (a frame that is sent once and then dropped).
    /// </summary>
    public static (byte[] Rented, int Length) BuildPooled<TState>(Action<Utf8JsonWriter, TState> write, TState state)
    {
        var json = Write(write, state);
        var rented = ArrayPool<byte>.Shared.Rent(json.Length);
        json.CopyTo(rented);
        return (rented, json.Length);
    }

    /// <summary>The object's bytes in the thread's buffer: valid until the thread's next write.</summary>
    private static ReadOnlySpan<byte> Write<TState>(Action<Utf8JsonWriter, TState> write, TState state)
    {
        var scratch = t_current ?? new JsonScratch();
        t_current = null; // a nested Build (a write callback that builds) gets its own
        try
        {
            scratch._buffer.ResetWrittenCount();
            scratch._writer.Reset(scratch._buffer);
            scratch._writer.WriteStartObject();
            write(scratch._writer, state);
            scratch._writer.WriteEndObject();
            scratch._writer.Flush();
            return scratch._buffer.WrittenSpan;
        }
        finally
        {
            if (scratch._buffer.Capacity <= MaxKeptBytes)
            {
                t_current = scratch;
            }
        }
    }
}
