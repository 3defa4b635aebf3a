using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Parley.Abstractions.Audio;
using Parley.Abstractions.Speech;
using Parley.Core.Providers;

namespace Parley.Core.Tests.Providers;

public sealed class SentenceTtsBaseTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Stream_SpeaksEachPushedText_InOrder_SkippingBlankText_AndEndsAfterFlush()
    {
        var engine = new FakeSentenceTts();
        await using var stream = engine.Open(new TtsRequest(new JsonObject { ["voice"] = "a" }));
        await stream.PushTextAsync("Hello there.", CancellationToken.None);
        await stream.PushTextAsync("  ", CancellationToken.None);
        await stream.PushTextAsync("Bye.", CancellationToken.None);
        await stream.FlushAsync(CancellationToken.None);

        var chunks = await ReadAllAsync(stream);

        Assert.Equal(["Hello there.", "Bye."], engine.Spoken);
        Assert.Equal([(short)'H', (short)'H', (short)'B', (short)'B'], chunks.Select(c => c.First));
        Assert.All(chunks, c => Assert.Null(c.Word));
        Assert.All(engine.ParametersSeen, p => Assert.Equal("a", p?["voice"]?.GetValue<string>()));
        Assert.Equal(1, engine.Validations); // the Params are checked once per stream, not per sentence
    }

    [Fact]
    public async Task Stream_ReadsAsTextArrives()
    {
        var engine = new FakeSentenceTts();
        await using var stream = engine.Open(new TtsRequest(null));
        await using var reader = stream.ReadAsync(CancellationToken.None).GetAsyncEnumerator();
        var next = reader.MoveNextAsync().AsTask();
        Assert.False(next.IsCompleted); // nothing pushed yet

        await stream.PushTextAsync("One.", CancellationToken.None);
        Assert.True(await next.WaitAsync(Guard));
        reader.Current.Audio.Dispose();
        Assert.True(await reader.MoveNextAsync());
        reader.Current.Audio.Dispose();

        await stream.FlushAsync(CancellationToken.None);
        Assert.False(await reader.MoveNextAsync().AsTask().WaitAsync(Guard));
    }

    [Fact]
    public void Open_WithParamsTheEngineRefuses_ThrowsItsMessage()
    {
        var error = Assert.Throws<ArgumentException>(() => new FakeSentenceTts().Open(new TtsRequest(new JsonObject { ["voice"] = "nope" })));
        Assert.StartsWith("TTS.Params.voice is unknown", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PushAfterFlush_Throws()
    {
        await using var stream = new FakeSentenceTts().Open(new TtsRequest(null));
        await stream.FlushAsync(CancellationToken.None);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await stream.PushTextAsync("late", CancellationToken.None));
    }

    [Fact]
    public async Task Dispose_StopsTheSynthesisInProgress()
    {
        var engine = new FakeSentenceTts { Stall = true };
        var stream = engine.Open(new TtsRequest(null));
        await stream.PushTextAsync("Long sentence.", CancellationToken.None);
        var reading = Task.Run(async () => await ReadAllAsync(stream));
        await engine.Stalled.Task.WaitAsync(Guard);

        await stream.DisposeAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reading.WaitAsync(Guard));
        Assert.True(engine.SynthesisEnded);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await stream.PushTextAsync("more", CancellationToken.None));
    }

    [Fact]
    public async Task VendorFailure_EndsTheRead()
    {
        var engine = new FakeSentenceTts { FailOn = "Bad." };
        await using var stream = engine.Open(new TtsRequest(null));
        await stream.PushTextAsync("Good.", CancellationToken.None);
        await stream.PushTextAsync("Bad.", CancellationToken.None);
        await stream.FlushAsync(CancellationToken.None);

        var count = 0;
        await Assert.ThrowsAsync<IOException>(async () =>
        {
            await foreach (var piece in stream.ReadAsync(CancellationToken.None))
            {
                piece.Audio.Dispose();
                count++;
            }
        });
        Assert.Equal(3, count); // both chunks of "Good.", the first of "Bad."
    }

    [Fact]
    public async Task SynthesizeAsync_TheOneCallPerSentence_ChecksParamsAndSkipsBlankText()
    {
        var engine = new FakeSentenceTts();
        await Assert.ThrowsAsync<ArgumentException>(async () =>
        {
            await foreach (var chunk in engine.SynthesizeAsync("x", new JsonObject { ["voice"] = "nope" }, CancellationToken.None))
            {
                chunk.Dispose();
            }
        });
        await foreach (var chunk in engine.SynthesizeAsync(" \n", null, CancellationToken.None))
        {
            chunk.Dispose();
        }

        var samples = new List<short>();
        await foreach (var chunk in engine.SynthesizeAsync("Hi.", null, CancellationToken.None))
        {
            samples.Add(chunk.Samples[0]);
            chunk.Dispose();
        }

        Assert.Equal(["Hi."], engine.Spoken);
        Assert.Equal([(short)'H', (short)'H'], samples);
        Assert.Equal(new TtsCapabilities(false, false, 0), engine.Capabilities);
        Assert.Null(engine.ValidateConfiguration(null));
    }

    private static async Task<List<(short First, WordTiming? Word)>> ReadAllAsync(ITtsStream stream)
    {
        using var cts = new CancellationTokenSource(Guard);
        var chunks = new List<(short, WordTiming?)>();
        await foreach (var piece in stream.ReadAsync(cts.Token))
        {
            using (piece.Audio)
            {
                chunks.Add((piece.Audio.Samples[0], piece.Word));
            }
        }

        return chunks;
    }

    /// <summary>Two chunks per text, each of 160 samples holding the text's first character.</summary>
    private sealed class FakeSentenceTts : SentenceTtsBase
    {
        public List<string> Spoken { get; } = [];

        public List<JsonObject?> ParametersSeen { get; } = [];

        public int Validations { get; private set; }

        public bool Stall { get; init; }

        public string? FailOn { get; init; }

        public TaskCompletionSource Stalled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool SynthesisEnded { get; private set; }

        public override string Name => "Fake";

        public override string? Validate(JsonObject? parameters)
        {
            Validations++;
            return parameters?["voice"]?.GetValue<string>() == "nope" ? "TTS.Params.voice is unknown" : null;
        }

        protected override async IAsyncEnumerable<AudioChunk> SynthesizeSentenceAsync(string text, JsonObject? parameters, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            Spoken.Add(text);
            ParametersSeen.Add(parameters);
            try
            {
                for (var i = 0; i < 2; i++)
                {
                    if (text == FailOn && i == 1)
                    {
                        throw new IOException("vendor failed mid-sentence");
                    }

                    var chunk = AudioChunk.Rent(160, 16000);
                    chunk.WritableSpan.Fill((short)text[0]);
                    yield return chunk;
                    if (Stall)
                    {
                        Stalled.TrySetResult();
                        await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
                    }
                }
            }
            finally
            {
                SynthesisEnded = true;
            }
        }
    }
}
