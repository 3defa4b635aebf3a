using System.Buffers.Binary;

namespace Parley.Rtc.WebRtc;

/// <summary>RTP (RFC 3550) header helpers.</summary>
internal static class RtpPacket
{
    public const int FixedHeaderLength = 12;

    /// <summary>
    /// The header length including CSRCs and the header extension, or -1 when the packet is not version 2 or is truncated.
    /// </summary>
    public static int HeaderLength(ReadOnlySpan<byte> packet)
    {
        if (packet.Length < FixedHeaderLength || (packet[0] >> 6) != 2)
        {
            return -1;
        }

        var length = FixedHeaderLength + (4 * (packet[0] & 0x0F));
        if ((packet[0] & 0x10) != 0)
        {
            if (packet.Length < length + 4)
            {
                return -1;
            }

            length += 4 + (4 * BinaryPrimitives.ReadUInt16BigEndian(packet[(length + 2)..]));
        }

        return length <= packet.Length ? length : -1;
    }

    /// <summary>The payload length after removing RTP padding (P bit), or -1 when the padding is invalid.</summary>
    public static int PayloadEnd(ReadOnlySpan<byte> packet, int headerLength)
    {
        if ((packet[0] & 0x20) == 0)
        {
            return packet.Length;
        }

        var padding = packet[^1];
        return padding == 0 || headerLength + padding > packet.Length ? -1 : packet.Length - padding;
    }

    public static void WriteHeader(Span<byte> buffer, bool marker, byte payloadType, ushort sequence, uint timestamp, uint ssrc)
    {
        buffer[0] = 0x80;
        buffer[1] = (byte)((marker ? 0x80 : 0) | (payloadType & 0x7F));
        BinaryPrimitives.WriteUInt16BigEndian(buffer[2..], sequence);
        BinaryPrimitives.WriteUInt32BigEndian(buffer[4..], timestamp);
        BinaryPrimitives.WriteUInt32BigEndian(buffer[8..], ssrc);
    }

    /// <summary>RFC 5761: with rtcp-mux, an RTP/RTCP packet is RTCP when its second byte is 192..223 (RTCP packet types 192..223).</summary>
    public static bool IsRtcp(ReadOnlySpan<byte> packet) => packet.Length >= 2 && packet[1] is >= 192 and <= 223;
}

/// <summary>
/// A small reorder buffer for one RTP stream: packets are held by sequence number in preallocated slots and released in
/// order; when <see cref="Depth"/> later packets are waiting behind a missing one, the missing one is declared lost.
/// Allocates nothing after construction. Not thread-safe.
/// </summary>
internal sealed class JitterBuffer
{
    public const int MaxPayload = 1500;
    private const int Capacity = 16;

    private readonly byte[][] _payloads = new byte[Capacity][];
    private readonly int[] _lengths = new int[Capacity];
    private readonly bool[] _present = new bool[Capacity];
    private int _count;
    private ushort _next;
    private bool _started;

    public JitterBuffer(int depth = 3)
    {
        if (depth is < 1 or >= Capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(depth), depth, $"The jitter buffer depth must be between 1 and {Capacity - 1} packets.");
        }

        Depth = depth;
        for (var i = 0; i < Capacity; i++)
        {
            _payloads[i] = new byte[MaxPayload];
        }
    }

    public int Depth { get; }

    /// <summary>Packets dropped because they arrived after their slot was played out or declared lost, or were duplicates.</summary>
    public long Late { get; private set; }

    /// <summary>Packets declared lost (concealed).</summary>
    public long Lost { get; private set; }

    /// <summary>Stores one payload; returns false when it is late or a duplicate.</summary>
    public bool Insert(ushort sequence, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > MaxPayload)
        {
            return false;
        }

        if (!_started)
        {
            _started = true;
            _next = sequence;
        }

        var ahead = (short)(sequence - _next);
        if (ahead < 0)
        {
            Late++;
            return false;
        }

        if (ahead >= Capacity)
        {
            // A jump far ahead (sender restart or long outage): drop what is held and resynchronise.
            Array.Clear(_present);
            _count = 0;
            _next = sequence;
        }

        var slot = sequence % Capacity;
        if (_present[slot])
        {
            Late++;
            return false;
        }

        payload.CopyTo(_payloads[slot]);
        _lengths[slot] = payload.Length;
        _present[slot] = true;
        _count++;
        return true;
    }

    /// <summary>
    /// Takes the next packet in order: returns <see cref="JitterResult.Packet"/> with its payload, <see cref="JitterResult.Lost"/>
    /// when the next one is given up on, or <see cref="JitterResult.None"/> when nothing is ready.
    /// </summary>
    public JitterResult TryTake(out ReadOnlySpan<byte> payload)
    {
        payload = default;
        if (_count == 0)
        {
            return JitterResult.None;
        }

        var slot = _next % Capacity;
        if (_present[slot])
        {
            _present[slot] = false;
            _count--;
            payload = _payloads[slot].AsSpan(0, _lengths[slot]);
            _next++;
            return JitterResult.Packet;
        }

        if (_count >= Depth)
        {
            _next++;
            Lost++;
            return JitterResult.Lost;
        }

        return JitterResult.None;
    }
}

internal enum JitterResult
{
    None,
    Packet,
    Lost,
}
