namespace Parley.Core.Sessions;

/// <summary>Latency sums of a session, averaged on read (the contract's LatencyData). Guarded by the session lock.</summary>
internal sealed class SessionLatencyStats(TimeProvider time)
{
    private long _ttftSumMs;
    private int _ttftCount;
    private double _tpsSum;
    private int _tpsCount;
    private long _ttsFirstAudioSumMs;
    private int _ttsFirstAudioCount;
    private long _totalCostSumMs;
    private int _totalCostCount;

    public void RecordLlm(long requestStart, long firstToken, long lastToken, int tokens)
    {
        if (tokens == 0)
        {
            return;
        }

        _ttftSumMs += (long)time.GetElapsedTime(requestStart, firstToken).TotalMilliseconds;
        _ttftCount++;
        var seconds = time.GetElapsedTime(firstToken, lastToken).TotalSeconds;
        if (tokens > 1 && seconds > 0)
        {
            _tpsSum += (tokens - 1) / seconds;
            _tpsCount++;
        }
    }

    /// <summary>
    /// From the request to the first audio of a reply's first segment (TTSAudioFirstFrameTime), rounded up: a local engine
    /// answers in under a millisecond, and a measured value must not read as the contract's "0 = unmeasured".
    /// </summary>
    public void RecordTtsFirstAudio(TimeSpan elapsed)
    {
        _ttsFirstAudioSumMs += (long)Math.Ceiling(Math.Max(0, elapsed.TotalMilliseconds));
        _ttsFirstAudioCount++;
    }

    /// <summary>From accepting a reply to handing its first segment to the speech output (TotalCostTime).</summary>
    public void RecordTotalCost(TimeSpan elapsed)
    {
        _totalCostSumMs += (long)elapsed.TotalMilliseconds;
        _totalCostCount++;
    }

    public SessionLatency Snapshot() => new(
        _ttftCount == 0 ? 0 : _ttftSumMs / _ttftCount,
        _tpsCount == 0 ? 0 : Math.Round(_tpsSum / _tpsCount, 3),
        _ttsFirstAudioCount == 0 ? 0 : _ttsFirstAudioSumMs / _ttsFirstAudioCount,
        _totalCostCount == 0 ? 0 : _totalCostSumMs / _totalCostCount);
}
