using System.Text.Json.Nodes;
using Parley.Abstractions.Speech;
using Parley.Providers.Local;
using Xunit;
using Xunit.Abstractions;

namespace Parley.Providers.Tests.Local;

public sealed class PocketSphinxFixture : IDisposable
{
    public PocketSphinxFixture()
    {
        Provider = new PocketSphinxRecognizerProvider();
        Provider.WarmUp(1);
    }

    public PocketSphinxRecognizerProvider Provider { get; }

    public void Dispose() => Provider.Dispose();
}

[Trait("Category", "RealEngine")]
public sealed class PocketSphinxRecognizerTests(PocketSphinxFixture fixture, ITestOutputHelper output)
    : IClassFixture<PocketSphinxFixture>
{
    private const int Piece = 320; // 20 ms at 16 kHz
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private PocketSphinxRecognizerProvider Provider => fixture.Provider;

    [Fact]
    public void Provider_IsNamedLocal() => Assert.Equal("Local", Provider.Name);

    [Fact]
    public async Task Stream_WeatherQuestionIn20msPieces_YieldsPartialsThenFinalWithWeather()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var stream = Provider.Open(new SpeechRecognitionOptions(null, null));

        await PushInPiecesAsync(stream, WithSilence(SpeechTestAudio.Speech("What is the weather like today?")), timeout.Token);
        await stream.EndUtteranceAsync(timeout.Token);

        var results = await ReadThroughFinalsAsync(stream, finals: 1, timeout.Token);
        foreach (var result in results)
        {
            output.WriteLine($"{(result.IsFinal ? "final" : "partial")}: {result.Text}");
        }

        var partials = results.Where(r => !r.IsFinal).ToList();
        Assert.NotEmpty(partials);
        Assert.All(partials, p => Assert.False(string.IsNullOrWhiteSpace(p.Text)));
        Assert.Equal(partials.Count, partials.Select(p => p.Text).Distinct().Count());
        var final = Assert.Single(results, r => r.IsFinal);
        Assert.True(results[^1].IsFinal, "the final result comes last");
        Assert.Contains("weather", final.Text, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Stream_TwoUtterancesInSequence_BothRecognised()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var stream = Provider.Open(new SpeechRecognitionOptions(new JsonObject { ["language"] = "en-us" }, null));

        await PushInPiecesAsync(stream, WithSilence(SpeechTestAudio.Speech("What is the weather like today?")), timeout.Token);
        await stream.EndUtteranceAsync(timeout.Token);
        await PushInPiecesAsync(stream, WithSilence(SpeechTestAudio.Speech("Please call my mother.")), timeout.Token);
        await stream.EndUtteranceAsync(timeout.Token);

        var finals = (await ReadThroughFinalsAsync(stream, finals: 2, timeout.Token)).Where(r => r.IsFinal).Select(r => r.Text).ToList();
        output.WriteLine(string.Join(" | ", finals));

        Assert.Equal(2, finals.Count);
        Assert.Contains("weather", finals[0], StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("weather", finals[1], StringComparison.OrdinalIgnoreCase);
        Assert.Contains("call", finals[1], StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Stream_SilentUtterance_GivesEmptyFinal()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var stream = Provider.Open(new SpeechRecognitionOptions(null, null));

        await PushInPiecesAsync(stream, SpeechTestAudio.Silence(TimeSpan.FromSeconds(1.5)), timeout.Token);
        await stream.EndUtteranceAsync(timeout.Token);
        await stream.EndUtteranceAsync(timeout.Token); // an end with no audio at all: empty final too

        var results = await ReadThroughFinalsAsync(stream, finals: 2, timeout.Token);

        Assert.Equal(2, results.Count);
        Assert.All(results, r => Assert.True(r.IsFinal));
        Assert.All(results, r => Assert.Equal(string.Empty, r.Text));
    }

    [Fact]
    public async Task IdleStreams_HoldNoDecoder_EvenAfterAnUtterance()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var streams = new List<ISpeechRecognitionStream>();
        try
        {
            for (var i = 0; i < 8; i++)
            {
                streams.Add(Provider.Open(new SpeechRecognitionOptions(null, null)));
            }

            // An end with no audio: each worker runs and answers (an empty final) without renting a decoder.
            foreach (var stream in streams)
            {
                await stream.EndUtteranceAsync(timeout.Token);
            }

            foreach (var stream in streams)
            {
                var results = await ReadThroughFinalsAsync(stream, finals: 1, timeout.Token);
                Assert.Equal(string.Empty, Assert.Single(results).Text);
            }

            Assert.Equal(0, Provider.Pool.RentedCount);
        }
        finally
        {
            foreach (var stream in streams)
            {
                await stream.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task SpeakingStream_RentsOneDecoderForTheUtterance_AndGivesItBackAtItsEnd()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var idle = Provider.Open(new SpeechRecognitionOptions(null, null));
        await using var stream = Provider.Open(new SpeechRecognitionOptions(null, null));
        var idleBefore = Provider.Pool.IdleCount;
        var results = stream.Results(timeout.Token).GetAsyncEnumerator(timeout.Token);

        await PushInPiecesAsync(stream, WithSilence(SpeechTestAudio.Speech("What is the weather like today?")), timeout.Token);
        Assert.True(await results.MoveNextAsync());
        Assert.False(results.Current.IsFinal); // a partial: the worker is decoding the utterance
        Assert.Equal(1, Provider.Pool.RentedCount);

        await stream.EndUtteranceAsync(timeout.Token);
        while (!results.Current.IsFinal)
        {
            Assert.True(await results.MoveNextAsync());
        }

        Assert.Contains("weather", results.Current.Text, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, Provider.Pool.RentedCount);
        Assert.Equal(Math.Max(idleBefore, 1), Provider.Pool.IdleCount);

        // The next utterance of the same stream rents again and is recognised.
        await PushInPiecesAsync(stream, WithSilence(SpeechTestAudio.Speech("Good morning, how are you?")), timeout.Token);
        await stream.EndUtteranceAsync(timeout.Token);
        do
        {
            Assert.True(await results.MoveNextAsync());
        }
        while (!results.Current.IsFinal);

        Assert.Contains("morning", results.Current.Text, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, Provider.Pool.RentedCount);
        await results.DisposeAsync();
    }

    [Fact]
    public async Task Dispose_MidUtterance_EndsResultsAndReturnsDecoderToPool()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var idleBefore = Provider.Pool.IdleCount;
        var stream = Provider.Open(new SpeechRecognitionOptions(null, null));
        var speech = SpeechTestAudio.Speech("What is the weather like today?");
        await PushInPiecesAsync(stream, speech.AsMemory(0, speech.Length / 2), timeout.Token);

        await stream.DisposeAsync();
        await stream.DisposeAsync(); // idempotent

        var results = await ReadThroughFinalsAsync(stream, finals: 1, timeout.Token);
        Assert.DoesNotContain(results, r => r.IsFinal);
        Assert.Equal(idleBefore, Provider.Pool.IdleCount); // tests of one class run one at a time
        await Assert.ThrowsAsync<ObjectDisposedException>(() => stream.PushAsync(speech, timeout.Token).AsTask());

        // The decoder went back to the pool between utterances: a new stream recognises normally.
        await using var next = Provider.Open(new SpeechRecognitionOptions(null, null));
        await PushInPiecesAsync(next, WithSilence(speech), timeout.Token);
        await next.EndUtteranceAsync(timeout.Token);
        var final = (await ReadThroughFinalsAsync(next, finals: 1, timeout.Token))[^1];
        Assert.Contains("weather", final.Text, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Streams_InParallel_EachRecogniseTheirOwnSpeech()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var weather = WithSilence(SpeechTestAudio.Speech("What is the weather like today?"));
        var mother = WithSilence(SpeechTestAudio.Speech("Please call my mother."));

        async Task<string> RecogniseAsync(short[] audio)
        {
            await using var stream = Provider.Open(new SpeechRecognitionOptions(null, null));
            await PushInPiecesAsync(stream, audio, timeout.Token);
            await stream.EndUtteranceAsync(timeout.Token);
            return (await ReadThroughFinalsAsync(stream, finals: 1, timeout.Token))[^1].Text;
        }

        var texts = await Task.WhenAll(Task.Run(() => RecogniseAsync(weather)), Task.Run(() => RecogniseAsync(mother)));

        Assert.Contains("weather", texts[0], StringComparison.OrdinalIgnoreCase);
        Assert.Contains("mother", texts[1], StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Validate_NullEmptyOrEnUs_IsValid()
    {
        Assert.Null(Provider.Validate(null));
        Assert.Null(Provider.Validate([]));
        Assert.Null(Provider.Validate(new JsonObject { ["language"] = "en-US" }));
        Assert.Null(Provider.Validate(new JsonObject { ["somethingElse"] = 3 }));
    }

    [Theory]
    [InlineData("zh-cn")]
    [InlineData("")]
    public void Validate_OtherLanguage_NamesTheField(string language)
    {
        var error = Provider.Validate(new JsonObject { ["language"] = language });
        Assert.NotNull(error);
        Assert.Contains("language", error, StringComparison.Ordinal);
        Assert.Contains("en-us", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NonStringLanguage_NamesTheField()
    {
        var error = Provider.Validate(new JsonObject { ["language"] = 42 });
        Assert.NotNull(error);
        Assert.Contains("language", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_UnsupportedLanguage_ThrowsWithTheValidationMessage()
    {
        var error = Assert.Throws<ArgumentException>(
            () => Provider.Open(new SpeechRecognitionOptions(new JsonObject { ["language"] = "fr-fr" }, null)));
        Assert.Contains("language", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_MissingModels_FailsResultsWithClearError()
    {
        using var provider = new PocketSphinxRecognizerProvider(new PocketSphinxOptions { ModelDirectory = "/nonexistent/model" });
        using var timeout = new CancellationTokenSource(Timeout);
        await using var stream = provider.Open(new SpeechRecognitionOptions(null, null));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () =>
        {
            await foreach (var unused in stream.Results(timeout.Token))
            {
            }
        });
        Assert.Contains("pocketsphinx-en-us", error.Message, StringComparison.Ordinal);
        var push = await Assert.ThrowsAsync<InvalidOperationException>(
            () => stream.PushAsync(new short[320], timeout.Token).AsTask());
        Assert.Contains("pocketsphinx-en-us", push.InnerException?.Message, StringComparison.Ordinal);
    }

    private static short[] WithSilence(short[] speech) => SpeechTestAudio.Concat(
        SpeechTestAudio.Silence(TimeSpan.FromMilliseconds(300)), speech, SpeechTestAudio.Silence(TimeSpan.FromMilliseconds(300)));

    private static async Task PushInPiecesAsync(ISpeechRecognitionStream stream, ReadOnlyMemory<short> audio, CancellationToken token)
    {
        for (var offset = 0; offset < audio.Length; offset += Piece)
        {
            await stream.PushAsync(audio.Slice(offset, Math.Min(Piece, audio.Length - offset)), token);
        }
    }

    /// <summary>Reads results up to and including the <paramref name="finals"/>-th final (or until the stream ends).</summary>
    private static async Task<List<SpeechRecognitionResult>> ReadThroughFinalsAsync(
        ISpeechRecognitionStream stream, int finals, CancellationToken token)
    {
        var results = new List<SpeechRecognitionResult>();
        await foreach (var result in stream.Results(token))
        {
            results.Add(result);
            if (result.IsFinal && --finals == 0)
            {
                break;
            }
        }

        return results;
    }
}
