using System.Threading.Channels;
using Parley.Core.Replies;
using Parley.Core.Sessions;
using Parley.Core.Text;

namespace Parley.Core.Output;

/// <summary>Timestamps of one LLM stream (for LatencyData), filled in while it runs.</summary>
internal sealed class LlmStreamStats
{
    public long RequestStart { get; set; }

    public long FirstToken { get; set; }

    public long LastToken { get; set; }

    public int Tokens { get; set; }
}

/// <summary>
/// The LLM stage of a reply: streams the model's deltas with a stall timeout, cuts them into sentences and writes the
/// sentences to the speech playout. The stall timer runs only while waiting for the model: time spent waiting on the
/// sentence channel (Parley's own speech queue) does not count.
/// </summary>
internal sealed class LlmStage(IChatModel model, TimeProvider time, TimeSpan stallTimeout)
{
    public async Task RunAsync(
        SpeechHandle handle,
        ChatModelRequest request,
        IReplyHost host,
        ChannelWriter<SpeechSegment> sentences,
        LlmStreamStats stats,
        CancellationToken cancellationToken)
    {
        var segmenter = new SentenceSegmenter();
        var completed = new List<string>();
        using var stall = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stall.Token);
        stats.RequestStart = time.GetTimestamp();
        var first = true;
        await using var e = model.StreamReplyAsync(request, linked.Token).GetAsyncEnumerator(linked.Token);
        while (true)
        {
            bool has;
            stall.CancelAfter(stallTimeout);
            try
            {
                has = await e.MoveNextAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (stall.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new LlmException(LlmErrorKind.General, $"The LLM sent nothing for {stallTimeout.TotalSeconds:0.#} s", ex);
            }

            // Waiting on our own speech queue below is not the model stalling.
            stall.CancelAfter(Timeout.InfiniteTimeSpan);
            if (!has)
            {
                break;
            }

            var delta = e.Current;
            if (string.IsNullOrEmpty(delta))
            {
                continue;
            }

            stats.LastToken = time.GetTimestamp();
            var firstDelta = stats.Tokens++ == 0;
            if (firstDelta)
            {
                stats.FirstToken = stats.LastToken;
            }

            if (!host.OnTextDelta(handle, delta, firstDelta))
            {
                return;
            }

            completed.Clear();
            completed.AddRange(segmenter.Push(delta));
            foreach (var sentence in completed)
            {
                if (!await WriteAsync(handle, host, sentences, sentence, first, cancellationToken).ConfigureAwait(false))
                {
                    return;
                }

                first = false;
            }
        }

        if (segmenter.Complete() is { } last)
        {
            await WriteAsync(handle, host, sentences, last, first, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async ValueTask<bool> WriteAsync(
        SpeechHandle handle, IReplyHost host, ChannelWriter<SpeechSegment> writer, string sentence, bool first, CancellationToken cancellationToken)
    {
        if (!host.OnSentence(handle, sentence))
        {
            return false;
        }

        await writer.WriteAsync(new SpeechSegment(handle.Round, sentence, first), cancellationToken).ConfigureAwait(false);
        return true;
    }
}
