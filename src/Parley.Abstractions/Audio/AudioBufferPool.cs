using System.Buffers;
using System.Numerics;

namespace Parley.Abstractions.Audio;

/// <summary>
/// The pool every PCM16 buffer of the media path is rented from and returned to (<see cref="AudioChunk"/>, the
/// transports' decoded frames, the recognisers' pieces, frame assemblers): one pool, so a buffer rented in one layer
/// and returned in another comes back to where it is rented again.
/// </summary>
/// <remarks>
/// <para>
/// Why not <see cref="ArrayPool{T}.Shared"/>: it keeps one array per size per thread and 32 per size per core. Audio
/// queued for playout (seconds of a reply per speaking session) and microphone frames in flight outnumber that as soon
/// as a few dozen sessions talk at once; every miss allocated a new array and every return beyond the limit dropped
/// one. Those arrays lived for seconds, so each gen0 collection promoted megabytes of them and gen1 collections (the
/// whole server's pauses that decided the load test's verdict) followed. This pool keeps what was returned, up to
/// <see cref="RetainedBytesPerSize"/> and <see cref="MaxArraysPerSize"/> per size class, so under a steady load the
/// same arrays circulate and nothing new is allocated or promoted.
/// </para>
/// <para>
/// Sizes are powers of two from 16 samples to <see cref="MaxPooledLength"/>; a larger request is allocated exactly and
/// dropped on return. An array of any other length (not rented here, e.g. wrapped by a caller) is accepted by
/// <see cref="Return"/> and dropped, never an error. What the pool retains is at most what was in use at once at the
/// peak (arrays only enter it by being returned), capped per size class.
/// </para>
/// </remarks>
public sealed class AudioBufferPool : ArrayPool<short>
{
    /// <summary>The longest array the pool keeps: 2^20 samples (65 s at 16 kHz).</summary>
    public const int MaxPooledLength = 1 << 20;

    /// <summary>How many bytes of arrays of one size the pool keeps at most (but at least 64 arrays of every size).</summary>
    public const long RetainedBytesPerSize = 32L * 1024 * 1024;

    /// <summary>How many arrays of one size the pool keeps at most.</summary>
    public const int MaxArraysPerSize = 8192;

    private const int MinLengthLog2 = 4; // 16 samples

    private readonly Bucket[] _buckets;

    public AudioBufferPool()
    {
        _buckets = new Bucket[BitOperations.Log2((uint)MaxPooledLength) - MinLengthLog2 + 1];
        for (var i = 0; i < _buckets.Length; i++)
        {
            var length = 1 << (i + MinLengthLog2);
            var capacity = (int)Math.Clamp(RetainedBytesPerSize / (length * (long)sizeof(short)), 64, MaxArraysPerSize);
            _buckets[i] = new Bucket(length, capacity);
        }
    }

    /// <summary>The process's audio buffer pool.</summary>
    public static new AudioBufferPool Shared { get; } = new();

    /// <summary>Arrays the pool holds now (all sizes): for tests and diagnostics.</summary>
    public int Retained
    {
        get
        {
            var total = 0;
            foreach (var bucket in _buckets)
            {
                total += bucket.Count;
            }

            return total;
        }
    }

    public override short[] Rent(int minimumLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(minimumLength);
        if (minimumLength == 0)
        {
            return [];
        }

        var index = BucketIndex(minimumLength);
        if (index >= _buckets.Length)
        {
            return GC.AllocateUninitializedArray<short>(minimumLength);
        }

        var bucket = _buckets[index];
        return bucket.TryTake() ?? GC.AllocateUninitializedArray<short>(bucket.Length);
    }

    public override void Return(short[] array, bool clearArray = false)
    {
        ArgumentNullException.ThrowIfNull(array);
        if (array.Length < 1 << MinLengthLog2 || !BitOperations.IsPow2(array.Length))
        {
            return; // not a size this pool rents: dropped
        }

        var index = BucketIndex(array.Length);
        if (index >= _buckets.Length)
        {
            return;
        }

        if (clearArray)
        {
            Array.Clear(array);
        }

        _buckets[index].TryAdd(array);
    }

    /// <summary>The size class of a length: the smallest power of two at least <paramref name="length"/> (and 16).</summary>
    private static int BucketIndex(int length) =>
        BitOperations.Log2(((uint)length - 1) | ((1u << MinLengthLog2) - 1)) + 1 - MinLengthLog2;

    /// <summary>
    /// The arrays of one length: a stack under a lock (held for a push or a pop, never across anything else), grown by
    /// doubling up to its capacity as arrays come back, so an unused size costs nothing.
    /// </summary>
    private sealed class Bucket(int length, int capacity)
    {
        private readonly Lock _gate = new();
        private short[]?[] _items = [];
        private int _count;

        public int Length { get; } = length;

        public int Count => Volatile.Read(ref _count);

        public short[]? TryTake()
        {
            lock (_gate)
            {
                if (_count == 0)
                {
                    return null;
                }

                var array = _items[--_count];
                _items[_count] = null;
                return array;
            }
        }

        public void TryAdd(short[] array)
        {
            lock (_gate)
            {
                if (_count == _items.Length)
                {
                    if (_count == capacity)
                    {
                        return; // full: dropped
                    }

                    Array.Resize(ref _items, Math.Min(capacity, Math.Max(64, _count * 2)));
                }

                _items[_count++] = array;
            }
        }
    }
}
