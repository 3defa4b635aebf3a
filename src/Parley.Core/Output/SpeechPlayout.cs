using System.Threading.Channels;
using Parley.Core.Replies;
using Parley.Core.Sessions;

namespace Parley.Core.Output;

/// <summary>
/// The speaking stage of a reply: hands its segments one by one to the speech output, guarded by a watchdog that cuts
/// off an output which neither finishes a segment nor reports progress for the stall timeout.
/// </summary>
internal sealed class SpeechPlayout(TimeProvider time, TimeSpan stallTimeout)
{
    /// <summary>Speaks every segment from <paramref name="reader"/>, then waits until the output has played it all.</summary>
    public async Task SpeakAllAsync(SpeechHandle handle, IReplyHost host, ChannelReader<SpeechSegment> reader)
    {
        var token = handle.Token;
        var output = handle.Output!;
        try
        {
            await foreach (var segment in reader.ReadAllAsync(token).ConfigureAwait(false))
            {
                await SpeakOneAsync(handle, host, segment, token).ConfigureAwait(false);
            }

            await output.FinishAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Interrupted (the interrupter cleared the output), or failed and reported elsewhere.
        }
        catch (Exception ex)
        {
            host.OnSpeechFailed(handle, ex);
        }
    }

    /// <summary>Speaks one segment (a fixed text reply is one segment), then waits for its end to be played.</summary>
    public async Task SpeakOnlyAsync(SpeechHandle handle, IReplyHost host, SpeechSegment segment)
    {
        var token = handle.Token;
        await SpeakOneAsync(handle, host, segment, token).ConfigureAwait(false);
        await handle.Output!.FinishAsync(token).ConfigureAwait(false);
    }

    private async Task SpeakOneAsync(SpeechHandle handle, IReplyHost host, SpeechSegment segment, CancellationToken token)
    {
        segment = segment with { Progress = new SpeechProgress(time) };
        if (!host.OnSegmentStarting(handle, segment))
        {
            return;
        }

        var played = false;
        var speakCts = CancellationTokenSource.CreateLinkedTokenSource(token);
        var speakToken = speakCts.Token;
        var watchdog = new SpeechWatchdog(time, segment.Progress, stallTimeout, speakCts);
        Task speaking;
        try
        {
            speaking = handle.Output!.SpeakAsync(segment, speakToken).AsTask();
        }
        catch
        {
            watchdog.Dispose();
            speakCts.Dispose();
            throw;
        }

        // The output owns the token until it returns: dispose it only then (never while it still observes it).
        _ = speaking.ContinueWith(static (_, cts) => ((CancellationTokenSource)cts!).Dispose(), speakCts, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        try
        {
            // WaitAsync: an output that ignores cancellation cannot wedge the session.
            await speaking.WaitAsync(speakToken).ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
            played = true;
        }
        catch (OperationCanceledException) when (watchdog.Fired && !token.IsCancellationRequested)
        {
            throw new SpeechStallException($"The speech output made no progress for {stallTimeout.TotalSeconds:0.#} s");
        }
        finally
        {
            watchdog.Dispose();
            host.OnSegmentEnded(handle, segment, played);
        }
    }

    /// <summary>Cancels a segment whose output neither finished nor reported progress for the stall timeout.</summary>
    private sealed class SpeechWatchdog : IDisposable
    {
        private readonly TimeProvider _time;
        private readonly SpeechProgress _progress;
        private readonly TimeSpan _timeout;
        private readonly CancellationTokenSource _cts;
        private readonly ITimer _timer;
        private volatile bool _fired;

        public SpeechWatchdog(TimeProvider time, SpeechProgress progress, TimeSpan timeout, CancellationTokenSource cts)
        {
            _time = time;
            _progress = progress;
            _timeout = timeout;
            _cts = cts;
            _timer = time.CreateTimer(static s => ((SpeechWatchdog)s!).Check(), this, timeout, Timeout.InfiniteTimeSpan);
        }

        public bool Fired => _fired;

        public void Dispose() => _timer.Dispose();

        private void Check()
        {
            var idle = _time.GetElapsedTime(_progress.LastActivityTimestamp);
            if (idle < _timeout)
            {
                _timer.Change(_timeout - idle, Timeout.InfiniteTimeSpan);
                return;
            }

            _fired = true;
            try
            {
                _cts.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }
}

/// <summary>The speech output made no progress for the stall timeout.</summary>
internal sealed class SpeechStallException(string message) : Exception(message);
