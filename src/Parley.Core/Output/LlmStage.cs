using System.Text.Json.Nodes;
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
/// With <c>LLMMetaInfo</c> rules the metadata is taken out of the deltas before subtitles and sentences see it
/// (<see cref="MetaInfoExtractor"/>) and rides on the segment of the sentence it starts.
internal sealed class LlmStage(IChatModel model, TimeProvider time, TimeSpan stallTimeout, MetaInfoRules? metaInfo = null)
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
        var extractor = metaInfo is null ? null : new MetaInfoExtractor(metaInfo);
        JsonObject? carried = null;
        var textStarted = false;
        var completed = new List<string>();

        // An output that synthesises text as it comes gets every delta now; the sentences then only place its audio.
        var output = handle.Output is { StreamsText: true } streaming ? streaming : null;
        var pushed = -1;
        using var stall = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stall.Token);
        stats.RequestStart = time.GetTimestamp();
        var first = true;
        await using var e = model.StreamOutputAsync(request, linked.Token).GetAsyncEnumerator(linked.Token);
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

            var piece = e.Current;
            if (!piece.Audio.IsEmpty && output is not null)
            {
                // The model's own voice: the reply's stream starts at its first audio or text, whichever comes first.
                if (pushed < 0)
                {
                    pushed = await output.PushTextAsync(handle.Round, "", first: true, cancellationToken).ConfigureAwait(false);
                }

                await output.PushAudioAsync(handle.Round, piece.Audio, piece.SampleRate, cancellationToken).ConfigureAwait(false);
            }

            var delta = piece.Text;
            if (string.IsNullOrEmpty(delta))
            {
                continue;
            }

            stats.LastToken = time.GetTimestamp();
            if (stats.Tokens++ == 0)
            {
                stats.FirstToken = stats.LastToken;
            }

            var marked = extractor is null ? delta : extractor.Push(delta);
            if (!Show(handle, host, marked, ref textStarted, out var visible))
            {
                return;
            }

            if (output is not null && visible.Length > 0)
            {
                pushed = await output.PushTextAsync(handle.Round, visible, pushed < 0, cancellationToken).ConfigureAwait(false);
            }

            completed.Clear();
            completed.AddRange(segmenter.Push(marked));
            foreach (var sentence in completed)
            {
                if (await WriteAsync(handle, host, sentences, extractor, sentence, first, carried, pushed, cancellationToken).ConfigureAwait(false) is not { } written)
                {
                    return;
                }

                (first, carried) = written;
            }
        }

        if (extractor is not null)
        {
            var rest = extractor.Complete();
            if (!Show(handle, host, rest, ref textStarted, out var visible))
            {
                return;
            }

            if (output is not null && visible.Length > 0)
            {
                pushed = await output.PushTextAsync(handle.Round, visible, pushed < 0, cancellationToken).ConfigureAwait(false);
            }

            completed.Clear();
            completed.AddRange(segmenter.Push(rest));
            foreach (var sentence in completed)
            {
                if (await WriteAsync(handle, host, sentences, extractor, sentence, first, carried, pushed, cancellationToken).ConfigureAwait(false) is not { } written)
                {
                    return;
                }

                (first, carried) = written;
            }
        }

        if (pushed >= 0)
        {
            output!.EndText(handle.Round);
        }

        if (segmenter.Complete() is { } last)
        {
            await WriteAsync(handle, host, sentences, extractor, last, first, carried, pushed, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Subtitles: the delta without metadata markers; nothing is shown for a delta that was all metadata.</summary>
    private static bool Show(SpeechHandle handle, IReplyHost host, string marked, ref bool started, out string visible)
    {
        visible = MetaInfoExtractor.StripMarkers(marked);
        if (visible.Length == 0)
        {
            return true;
        }

        var firstDelta = !started;
        started = true;
        return host.OnTextDelta(handle, visible, firstDelta);
    }

    /// <summary>Writes one sentence; returns the next (first, carried metadata), or null when the reply is done.</summary>
    private async ValueTask<(bool First, JsonObject? Carried)?> WriteAsync(
        SpeechHandle handle,
        IReplyHost host,
        ChannelWriter<SpeechSegment> writer,
        MetaInfoExtractor? extractor,
        string sentence,
        bool first,
        JsonObject? carried,
        int textEnd,
        CancellationToken cancellationToken)
    {
        JsonObject? meta = null;
        if (extractor is not null)
        {
            meta = extractor.TakeSentenceMeta(sentence, out sentence);
            if (carried is not null)
            {
                // Metadata that came alone (a "sentence" of only metadata) belongs to the next sentence.
                meta = meta is null ? carried : Merge(carried, meta);
            }

            if (sentence.Length == 0)
            {
                return (first, meta);
            }
        }

        if (!host.OnSentence(handle, sentence))
        {
            return null;
        }

        var segment = new SpeechSegment(handle.Round, sentence, first)
        {
            MetaInfo = meta,
            SentMetaInfo = meta is null ? null : metaInfo!.Sent(meta),
            TextEnd = textEnd,
        };
        await writer.WriteAsync(segment, cancellationToken).ConfigureAwait(false);
        return (false, null);
    }

    private static JsonObject Merge(JsonObject earlier, JsonObject later)
    {
        foreach (var key in later.Select(p => p.Key).ToList())
        {
            var value = later[key];
            later.Remove(key);
            earlier[key] = value;
        }

        return earlier;
    }
}
