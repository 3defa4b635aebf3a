using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Parley.Server.Apps;

namespace Parley.Server.Api;

/// <summary>Token bucket per (app, action): <see cref="ParleyOptions.RateLimitPerSecond"/> requests per second, bursts up to the same.</summary>
public sealed class ActionRateLimiter(IOptions<ParleyOptions> options, TimeProvider time)
{
    private readonly ConcurrentDictionary<(uint AppId, string Action), Bucket> _buckets = new();

    public bool TryAcquire(uint appId, string action)
    {
        var rate = options.Value.RateLimitPerSecond;
        if (rate <= 0)
        {
            return true;
        }

        var bucket = _buckets.GetOrAdd((appId, action), static (_, state) => new Bucket(state.rate, state.now), (rate, now: time.GetTimestamp()));
        return bucket.TryTake(rate, time);
    }

    private sealed class Bucket(int capacity, long now)
    {
        private readonly Lock _lock = new();
        private double _tokens = capacity;
        private long _updated = now;

        public bool TryTake(int rate, TimeProvider time)
        {
            lock (_lock)
            {
                var now = time.GetTimestamp();
                var elapsed = time.GetElapsedTime(_updated, now).TotalSeconds;
                _updated = now;
                _tokens = Math.Min(rate, _tokens + (elapsed * rate));
                if (_tokens < 1)
                {
                    return false;
                }

                _tokens -= 1;
                return true;
            }
        }
    }
}
