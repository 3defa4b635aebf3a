using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Parley.Server.Apps;

namespace Parley.Server.Api;

/// <summary>What <see cref="ReplayGuard.Admit"/> decided about a correctly signed request.</summary>
public enum ReplayVerdict
{
    /// <summary>The nonce is new: the request is served and the nonce remembered until its timestamp leaves the window.</summary>
    Fresh,

    /// <summary>The app already used this SignatureNonce within the window: a replayed (or carelessly re-signed) request.</summary>
    Replayed,

    /// <summary>
    /// The app signed more requests within the window than the guard remembers: the nonces with the oldest timestamps
    /// were forgotten, so requests with a timestamp that old can no longer be told apart from replays and are refused.
    /// </summary>
    TooOld,
}

/// <summary>
/// The replay guard (<c>Parley:ReplayGuard</c>): a correctly signed request whose <c>SignatureNonce</c> its app already
/// used within the signature window is refused. A request can only be replayed while its <c>Timestamp</c> is inside
/// the window, so a nonce is remembered until then and no longer; at most <c>Parley:ReplayGuardNoncesPerApp</c> per app
/// (beyond that the oldest timestamps are dropped and refused, see <see cref="ReplayVerdict.TooOld"/>).
/// </summary>
/// <remarks>
/// Per app: a set of 64-bit nonce hashes (seeded per process) and a ring of one slot per second of timestamp (2 × window
/// + 2 slots), each listing the hashes whose request carried that second. Admitting a request is a hash, a lookup and an
/// insert under the app's lock; a second's slot is emptied once, when that second leaves the window. Sets and lists keep
/// their capacity, so at a steady request rate nothing is allocated per request.
/// </remarks>
public sealed class ReplayGuard
{
    private readonly ConcurrentDictionary<uint, AppNonces> _apps = new();
    private readonly long _windowSeconds;
    private readonly int _capacity;
    private readonly ulong _seed = BinaryPrimitives.ReadUInt64LittleEndian(RandomNumberGenerator.GetBytes(8));

    public ReplayGuard(IOptions<ParleyOptions> options)
        : this((long)options.Value.SignatureWindow.TotalSeconds, options.Value.ReplayGuardNoncesPerApp)
    {
    }

    internal ReplayGuard(long windowSeconds, int noncesPerApp)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(windowSeconds);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(noncesPerApp);
        _windowSeconds = windowSeconds;
        _capacity = noncesPerApp;
    }

    /// <summary>
    /// Decides about a request of <paramref name="appId"/> whose signature is correct and whose
    /// <paramref name="timestamp"/> (Unix seconds) is within the window around <paramref name="now"/>.
    /// </summary>
    public ReplayVerdict Admit(uint appId, string nonce, long timestamp, long now)
    {
        if (!_apps.TryGetValue(appId, out var nonces))
        {
            nonces = _apps.GetOrAdd(appId, static (_, guard) => new AppNonces(guard._windowSeconds, guard._capacity), this);
        }

        return nonces.Admit(Hash(nonce, _seed), timestamp, now);
    }

    /// <summary>Nonces remembered for <paramref name="appId"/> now (never more than the per-app cap).</summary>
    public int Remembered(uint appId) => _apps.TryGetValue(appId, out var nonces) ? nonces.Count : 0;

    /// <summary>A seeded 64-bit hash of the nonce's characters (splitmix64 rounds over 8-byte blocks): no allocation.</summary>
    private static ulong Hash(string nonce, ulong seed)
    {
        var bytes = MemoryMarshal.AsBytes(nonce.AsSpan());
        var hash = seed ^ ((ulong)bytes.Length * 0x9E3779B97F4A7C15UL);
        while (bytes.Length >= 8)
        {
            hash = Mix(hash ^ BinaryPrimitives.ReadUInt64LittleEndian(bytes));
            bytes = bytes[8..];
        }

        ulong tail = 0;
        for (var i = 0; i < bytes.Length; i++)
        {
            tail |= (ulong)bytes[i] << (8 * i);
        }

        return Mix(Mix(hash ^ tail ^ 0xD6E8FEB86659FD93UL));
    }

    private static ulong Mix(ulong x)
    {
        x ^= x >> 30;
        x *= 0xBF58476D1CE4E5B9UL;
        x ^= x >> 27;
        x *= 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    private sealed class AppNonces(long windowSeconds, int capacity)
    {
        private readonly Lock _gate = new();
        private readonly HashSet<ulong> _seen = [];
        private readonly Slot[] _slots = CreateSlots(2 * windowSeconds + 2);

        /// <summary>Every second up to this one has been emptied (its requests are outside the window now).</summary>
        private long _swept = long.MinValue;

        /// <summary>Timestamps up to this second were dropped for capacity: such requests are refused.</summary>
        private long _floor = long.MinValue;

        public int Count
        {
            get
            {
                lock (_gate)
                {
                    return _seen.Count;
                }
            }
        }

        public ReplayVerdict Admit(ulong hash, long timestamp, long now)
        {
            lock (_gate)
            {
                // A request stamped t can be replayed while now ≤ t + window: seconds before now − window are done with.
                Sweep(now - windowSeconds - 1);
                if (timestamp <= _floor)
                {
                    return ReplayVerdict.TooOld;
                }

                if (_seen.Count >= capacity)
                {
                    if (_seen.Contains(hash))
                    {
                        return ReplayVerdict.Replayed;
                    }

                    DropOldest(now);
                    if (timestamp <= _floor)
                    {
                        return ReplayVerdict.TooOld;
                    }
                }

                // One lookup: a nonce already in the set is a replay.
                if (!_seen.Add(hash))
                {
                    return ReplayVerdict.Replayed;
                }

                var slot = _slots[Index(timestamp)];
                if (slot.Second != timestamp)
                {
                    Clear(slot);
                    slot.Second = timestamp;
                }

                slot.Hashes.Add(hash);
                return ReplayVerdict.Fresh;
            }
        }

        private void Sweep(long upTo)
        {
            if (upTo <= _swept)
            {
                return;
            }

            if (_swept == long.MinValue || upTo - _swept >= _slots.Length)
            {
                // The first request, or none for longer than the ring covers: check every slot once.
                foreach (var slot in _slots)
                {
                    if (slot.Second <= upTo)
                    {
                        Clear(slot);
                    }
                }
            }
            else
            {
                for (var second = _swept + 1; second <= upTo; second++)
                {
                    var slot = _slots[Index(second)];
                    if (slot.Second == second)
                    {
                        Clear(slot);
                    }
                }
            }

            _swept = upTo;
        }

        /// <summary>Forgets whole seconds, oldest timestamp first, until there is room; raises the floor over them.</summary>
        private void DropOldest(long now)
        {
            var last = now + windowSeconds;
            for (var second = Math.Max(_floor + 1, now - windowSeconds); second <= last && _seen.Count >= capacity; second++)
            {
                var slot = _slots[Index(second)];
                if (slot.Second == second)
                {
                    Clear(slot);
                }

                _floor = second;
            }
        }

        private void Clear(Slot slot)
        {
            foreach (var hash in slot.Hashes)
            {
                _seen.Remove(hash);
            }

            slot.Hashes.Clear();
            slot.Second = long.MinValue;
        }

        private int Index(long second)
        {
            var index = second % _slots.Length;
            return (int)(index < 0 ? index + _slots.Length : index);
        }

        private static Slot[] CreateSlots(long count)
        {
            var slots = new Slot[count];
            for (var i = 0; i < slots.Length; i++)
            {
                slots[i] = new Slot();
            }

            return slots;
        }
    }

    private sealed class Slot
    {
        public long Second = long.MinValue;

        public readonly List<ulong> Hashes = [];
    }
}
