using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;
using Parley.Abstractions.Audio;
using Parley.Abstractions.Speech;
using Parley.Core.Output;
using Parley.Core.Providers;
using Parley.Core.Sessions;

namespace Parley.Core.Tests.Timeline;

/// <summary>
/// Engines that take the reply's text as it is generated (ByteDanceFlowing-style: streaming text plus word timings):
/// the LLM's deltas reach the engine before a sentence is complete, and the word timings place each sentence's audio.
/// </summary>
[Collection(nameof(TimelineCollection))]
public sealed class StreamingTextTimelineTests
{
    private static TimeSpan Ms(int ms) => TimeSpan.FromMilliseconds(ms);

    [Fact]
    public async Task Deltas_ReachTheEngineAsGenerated_BeforeTheSentenceIsComplete()
    {
        await using var t = new VoiceTimeline();
        var tts = new StreamingScriptedTts(t.Time);
        t.Agent.UpdateVoice(new TtsVoice(tts, null, [], null));
        t.UserSays(Ms(200), Ms(600), "hello");
        t.Llm.Add(LlmScript.Words("Hello there my good friend, how are you today? I am fine.", perTokenMs: 100));
        await t.RunUntilAsync(() => t.All<ReplyFinishedEvent>().Any(), TimeSpan.FromSeconds(20));

        var stream = Assert.Single(tts.Streams);
        Assert.Equal("Hello there my good friend, how are you today? I am fine.", string.Concat(stream.Pushes.Select(p => p.Text)));
        Assert.True(stream.Pushes.Count >= 10, $"pushed {stream.Pushes.Count} pieces");
        var firstSentence = t.TimeOf<ReplySentenceEvent>();
        Assert.True(stream.Pushes[0].At < firstSentence - Ms(500), $"first text pushed at {stream.Pushes[0].At}, first sentence complete at {firstSentence}");

        // The first audio was heard before the LLM had finished the first sentence.
        var firstAudio = t.Sink.Played.First(f => f.Marker != 0).At;
        Assert.True(firstAudio < firstSentence, $"first audio at {firstAudio}, first sentence at {firstSentence}");
        Assert.True(stream.Disposed, "the reply's stream is released once it was heard");
    }

    [Fact]
    public async Task EachSentencesAudio_IsPlacedByTheWordTimings_AndPlayedCompletely()
    {
        await using var t = new VoiceTimeline();
        var tts = new StreamingScriptedTts(t.Time);
        t.Agent.UpdateVoice(new TtsVoice(tts, null, [], null));
        t.UserSays(Ms(200), Ms(600), "hello");
        t.Llm.Add(LlmScript.Words("One two three. Four five.", perTokenMs: 30));
        await t.RunUntilAsync(() => t.All<ReplyFinishedEvent>().Any(), TimeSpan.FromSeconds(20));
        await t.RunForAsync(Ms(200));

        // Sentence 1 ("One two three.": 12 spoken characters, 60 ms each) then sentence 2, in order, all of it.
        var markers = t.Sink.Played.Where(f => f.Marker != 0).Select(f => f.Marker).ToList();
        Assert.Equal(markers.Order(), markers);
        var expected1 = "Onetwothree.".Length * 60 / 20;
        var expected2 = "Fourfive.".Length * 60 / 20;
        Assert.InRange(markers.Count(m => m == 1), expected1 - 2, expected1 + 2);
        Assert.InRange(markers.Count(m => m == 2), expected2 - 2, expected2 + 2);
        Assert.Equal("One two three. Four five.", t.First<ReplyFinishedEvent>().Text);
        Assert.Equal(["One two three.", "Four five."], t.All<ReplySentenceEvent>().Select(s => s.Text));
    }

    [Fact]
    public async Task BargeIn_StopsTheStream_AndKeepsWhatWasPlayed()
    {
        await using var t = new VoiceTimeline();
        var tts = new StreamingScriptedTts(t.Time);
        t.Agent.UpdateVoice(new TtsVoice(tts, null, [], null));
        t.UserSays(Ms(200), Ms(600), "hello");
        t.Llm.Add(LlmScript.Words("Short one. And now a much longer second sentence that goes on and on for a while.", perTokenMs: 20));
        await t.RunUntilAsync(() => t.Sink.Played.Any(f => f.Marker == 2), TimeSpan.FromSeconds(20));
        t.UserSays(t.Now + Ms(400), Ms(600), "wait");
        await t.RunForAsync(Ms(3000));

        var interrupted = t.First<InterruptedEvent>();
        var decision = t.TimeOf<InterruptedEvent>();
        Assert.StartsWith("Short one. And", interrupted.PlayedText, StringComparison.Ordinal);
        Assert.True(interrupted.PlayedText.Length < "Short one. And now a much longer second sentence that goes on and on for a while.".Length, interrupted.PlayedText);
        var next = t.TimeOf<AgentSpeakingChangedEvent>(e => e.Speaking && e.RoundId != interrupted.RoundId);
        Assert.True(t.Sink.Played.Count(f => f.At > decision && f.At < next && f.Marker != 0) <= 1, "old audio after the decision");
        Assert.True(tts.Streams.First().Disposed, "the interrupted reply's synthesis is stopped");
    }

    [Fact]
    public async Task EngineWithoutWordTimings_GetsWholeSentences()
    {
        await using var t = new VoiceTimeline();
        var tts = new StreamingScriptedTts(t.Time, wordTimings: false);
        t.Agent.UpdateVoice(new TtsVoice(tts, null, [], null));
        t.UserSays(Ms(200), Ms(600), "hello");
        t.Llm.Add(LlmScript.Words("One two three. Four five.", perTokenMs: 30));
        await t.RunUntilAsync(() => t.All<ReplyFinishedEvent>().Any(), TimeSpan.FromSeconds(20));

        Assert.Equal(["One two three.", "Four five."], tts.Streams.Select(s => string.Concat(s.Pushes.Select(p => p.Text))));
    }

    [Fact]
    public async Task StreamFailure_EndsTheReplyWithASpeechError_AndTheNextReplyWorks()
    {
        await using var t = new VoiceTimeline();
        var tts = new StreamingScriptedTts(t.Time) { FailAfterWords = 2 };
        t.Agent.UpdateVoice(new TtsVoice(tts, null, [], null));
        t.UserSays(Ms(200), Ms(600), "hello");
        t.Llm.Add(LlmScript.Words("One two three four. Five six.", perTokenMs: 30));
        await t.RunUntilAsync(() => t.All<SessionErrorEvent>().Any(), TimeSpan.FromSeconds(20));
        Assert.Equal(SessionErrorSource.Speech, t.First<SessionErrorEvent>().Source);
        Assert.Equal(LlmErrorKind.RateLimited, t.First<SessionErrorEvent>().Kind); // the vendor's class reaches the event (→ 2304)

        tts.FailAfterWords = null;
        t.UserSays(t.Now + Ms(300), Ms(600), "again");
        t.Llm.Add(LlmScript.Words("Fine now."));
        try
        {
            await t.RunUntilAsync(() => t.All<ReplyFinishedEvent>().Any(f => f.Text == "Fine now."), TimeSpan.FromSeconds(20));
        }
        catch (Exception ex)
        {
            throw new Xunit.Sdk.XunitException(ex.Message + "\n" + string.Join("\n", t.Events.ToArray().Select(e => $"{e.At.TotalMilliseconds} {e.Event}")));
        }
        var second = t.TimeOf<ReplySentenceEvent>(s => s.Text == "Fine now.");
        Assert.Contains(t.Sink.Played, f => f.At > second && f.Marker != 0);
    }
}

/// <summary>
/// A streaming-text engine on the fake clock: each complete word of the pushed text (ended by a space or the flush)
/// is spoken as 60 ms per character after <see cref="PerWordDelay"/>, with a <see cref="WordTiming"/> before its
/// audio; samples carry the word's sentence number (1, 2, … counted by '.', '?' and '!').
/// </summary>
internal sealed class StreamingScriptedTts(FakeTimeProvider time, bool wordTimings = true) : ITextToSpeech
{
    public string Name => "StreamingScripted";

    public TtsCapabilities Capabilities { get; } = new(StreamingText: true, WordTimings: wordTimings, NativeSampleRate: 16000);

    public ConcurrentQueue<Stream> Streams { get; } = new();

    public TimeSpan PerWordDelay { get; set; } = TimeSpan.FromMilliseconds(20);

    public int? FailAfterWords { get; set; }

    public string? Validate(JsonObject? parameters) => null;

    public string? ValidateConfiguration(JsonObject? parameters) => null;

    public ITtsStream Open(TtsRequest request)
    {
        var stream = new Stream(this);
        Streams.Enqueue(stream);
        return stream;
    }

    internal sealed class Stream(StreamingScriptedTts owner) : TtsStreamBase
    {
        public List<(TimeSpan At, string Text)> Pushes { get; } = [];

        public bool Disposed { get; private set; }

        protected override async Task RunAsync(ChannelReader<string> text, ChannelWriter<TtsAudio> audio, CancellationToken cancellationToken)
        {
            var all = "";
            var spoken = 0;
            var sentence = 1;
            var words = 0;
            var position = TimeSpan.Zero;
            var done = false;
            while (!done)
            {
                if (await text.WaitToReadAsync(cancellationToken))
                {
                    while (text.TryRead(out var piece))
                    {
                        lock (Pushes)
                        {
                            Pushes.Add((owner._time.GetUtcNow() - VoiceTimeline.T0, piece));
                        }

                        all += piece;
                    }
                }
                else
                {
                    done = true;
                }

                while (true)
                {
                    while (spoken < all.Length && all[spoken] == ' ')
                    {
                        spoken++;
                    }

                    var end = all.IndexOf(' ', spoken);
                    if (end < 0 && !(done && spoken < all.Length))
                    {
                        break;
                    }

                    end = end < 0 ? all.Length : end;
                    var word = all[spoken..end];
                    await Task.Delay(owner.PerWordDelay, owner._time, cancellationToken);
                    if (owner.FailAfterWords is { } fail && words++ >= fail)
                    {
                        throw new VendorLimitException("the streaming TTS vendor refused: concurrency limit");
                    }

                    var duration = TimeSpan.FromMilliseconds(word.Length * 60);
                    if (owner.Capabilities.WordTimings)
                    {
                        await audio.WriteAsync(new TtsAudio(default, new WordTiming(word, spoken, word.Length, position, position + duration)), cancellationToken);
                    }

                    var samples = word.Length * 60 * 16;
                    var chunk = AudioChunk.Rent(samples, 16000);
                    chunk.WritableSpan[..samples].Fill((short)sentence);
                    await audio.WriteAsync(new TtsAudio(chunk.WithLength(samples), null), cancellationToken);
                    position += duration;
                    if (word[^1] is '.' or '?' or '!')
                    {
                        sentence++;
                    }

                    spoken = end;
                }
            }
        }

        protected override ValueTask DisposeCoreAsync()
        {
            Disposed = true;
            return ValueTask.CompletedTask;
        }
    }

    private readonly FakeTimeProvider _time = time;
}

/// <summary>A vendor failure that says it is a concurrency limit.</summary>
internal sealed class VendorLimitException(string message) : Exception(message), ISpeechVendorFailure
{
    public SpeechFailureKind FailureKind => SpeechFailureKind.RateLimited;
}
