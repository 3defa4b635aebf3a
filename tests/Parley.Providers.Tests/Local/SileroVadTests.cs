using Parley.Abstractions.Speech;
using Parley.Core.Turns;
using Parley.Providers.Local;
using Xunit;
using Xunit.Abstractions;

namespace Parley.Providers.Tests.Local;

public sealed class SileroVadFixture : IDisposable
{
    /// <summary>Unbatched: these tests are about <see cref="SileroVad"/> (the batched path has BatchedSileroVadTests).</summary>
    public SileroVadFactory Factory { get; } = new(options: new SileroVadOptions { BatchWorkers = 0 });

    public void Dispose() => Factory.Dispose();
}

[Trait("Category", "RealEngine")]
public sealed class SileroVadTests(SileroVadFixture fixture, ITestOutputHelper output) : IClassFixture<SileroVadFixture>
{
    private const int Window = 512;

    [Fact]
    public void Factory_IsNamedSileroAndCreates512SampleDetectors()
    {
        using var vad = fixture.Factory.Create();
        Assert.Equal("Silero", fixture.Factory.Name);
        Assert.Equal(Window, vad.WindowSamples);
    }

    [Fact]
    public void Factory_MissingModel_ThrowsNamingThePath()
    {
        var path = Path.Combine(Path.GetTempPath(), "no-such-dir", "silero.onnx");
        var error = Assert.Throws<FileNotFoundException>(() => new SileroVadFactory(path));
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Score_FliteSpeech_HighOnSpeechLowOnSilence()
    {
        var speech = SpeechTestAudio.Speech("What is the weather like today?");
        var lead = SpeechTestAudio.Silence(TimeSpan.FromSeconds(1));
        var audio = SpeechTestAudio.Concat(lead, speech, SpeechTestAudio.Silence(TimeSpan.FromSeconds(1)));
        using var vad = fixture.Factory.Create();

        var scores = ScoreAll(vad, audio);
        output.WriteLine(string.Join(" ", scores.Select(s => s.ToString("F2"))));

        var speechFirst = lead.Length / Window + 1;
        var speechLast = (lead.Length + speech.Length) / Window - 1;
        var speechScores = scores[speechFirst..speechLast];
        var silenceScores = scores[..(lead.Length / Window)];

        Assert.True(speechScores.Max() > 0.9f, $"max speech probability {speechScores.Max():F2}");
        var speechy = speechScores.Count(s => s >= 0.5f) / (double)speechScores.Length;
        Assert.True(speechy >= 0.7, $"only {speechy:P0} of speech windows scored >= 0.5");
        Assert.True(silenceScores.Max() < 0.1f, $"max silence probability {silenceScores.Max():F2}");
    }

    [Fact]
    public void Score_LowLevelWhiteNoise_StaysLow()
    {
        // Peak 300 of 32767: about -40 dBFS, a quiet room's hiss.
        var noise = SpeechTestAudio.WhiteNoise(TimeSpan.FromSeconds(3), amplitude: 300);
        using var vad = fixture.Factory.Create();

        var scores = ScoreAll(vad, noise);
        output.WriteLine(string.Join(" ", scores.Select(s => s.ToString("F2"))));

        Assert.True(scores.Max() < 0.3f, $"max noise probability {scores.Max():F2}");
    }

    [Fact]
    public void Reset_ForgetsRecurrentStateAndContext()
    {
        var audio = SpeechTestAudio.Speech("Good morning, how are you?");
        using var vad = fixture.Factory.Create();

        var first = ScoreAll(vad, audio);
        var continued = ScoreAll(vad, audio);
        vad.Reset();
        var afterReset = ScoreAll(vad, audio);

        Assert.Equal(first, afterReset);
        Assert.NotEqual(first, continued);
    }

    [Fact]
    public void Score_TwoDetectorsOnOneSession_KeepSeparateState()
    {
        var audio = SpeechTestAudio.Speech("Good morning, how are you?");
        using var a = fixture.Factory.Create();
        using var b = fixture.Factory.Create();

        var interleaved = new float[audio.Length / Window];
        for (var w = 0; w < interleaved.Length; w++)
        {
            interleaved[w] = a.Score(audio.AsSpan(w * Window, Window));
            b.Score(SpeechTestAudio.Silence(TimeSpan.FromMilliseconds(32)));
        }

        using var alone = fixture.Factory.Create();
        Assert.Equal(ScoreAll(alone, audio), interleaved);
    }

    [Fact]
    public void Score_DetectorsOnSeveralThreads_MatchSequentialScores()
    {
        var audio = SpeechTestAudio.Speech("What is the weather like today?");
        float[] expected;
        using (var vad = fixture.Factory.Create())
        {
            expected = ScoreAll(vad, audio);
        }

        var results = new float[4][];
        Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            using var vad = fixture.Factory.Create();
            results[i] = ScoreAll(vad, audio);
        });

        Assert.All(results, r => Assert.Equal(expected, r));
    }

    [Fact]
    public void SileroWithSegmenter_FliteSpeech_OneStartAtOnsetAndOneEndAfterSilenceSegmentation()
    {
        var speech = SpeechTestAudio.Speech("What is the weather like today?");
        var lead = SpeechTestAudio.Silence(TimeSpan.FromSeconds(1));
        var audio = SpeechTestAudio.Concat(lead, speech, SpeechTestAudio.Silence(TimeSpan.FromSeconds(1.5)));
        using var vad = fixture.Factory.Create();
        var segmenter = new VadSegmenter(new VadSegmenterOptions { SilenceDuration = TimeSpan.FromMilliseconds(500) });
        var windowDuration = TimeSpan.FromSeconds(Window / 16000.0);

        var events = new List<VadEvent>();
        for (var w = 0; w < audio.Length / Window; w++)
        {
            var e = segmenter.Process(vad.Score(audio.AsSpan(w * Window, Window)), w * windowDuration);

            // Starts and ends; the provisional start before a start (and a released one) have their own tests.
            if (e.Kind is VadEventKind.SpeechStarted or VadEventKind.SpeechEnded)
            {
                events.Add(e);
            }
        }

        var speechStart = TimeSpan.FromSeconds(1);
        var speechEnd = TimeSpan.FromSeconds((lead.Length + speech.Length) / 16000.0);
        output.WriteLine(string.Join(", ", events));
        Assert.Equal([VadEventKind.SpeechStarted, VadEventKind.SpeechEnded], events.Select(e => e.Kind));
        Assert.InRange(events[0].SpeechBoundary, speechStart - windowDuration, speechStart + TimeSpan.FromMilliseconds(400));
        Assert.InRange(events[1].SpeechBoundary, speechEnd - TimeSpan.FromMilliseconds(400), speechEnd + windowDuration);
        Assert.InRange(events[1].At - events[1].SpeechBoundary, TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(532));
    }

    [Fact]
    public void Score_WrongWindowLength_ThrowsNamingTheParameter()
    {
        using var vad = fixture.Factory.Create();
        var error = Assert.Throws<ArgumentException>(() => vad.Score(new short[480]));
        Assert.Equal("window", error.ParamName);
    }

    [Fact]
    public void Score_AfterWarmUp_AllocatesNothingPerWindow()
    {
        var audio = SpeechTestAudio.Concat(
            SpeechTestAudio.Speech("What is the weather like today?"), SpeechTestAudio.Silence(TimeSpan.FromSeconds(2)));
        Assert.True(audio.Length >= 100 * Window);
        using var vad = fixture.Factory.Create();
        for (var w = 0; w < 10; w++)
        {
            vad.Score(audio.AsSpan(w * Window, Window));
        }

        // The least of three passes: a one-off runtime event on this thread (a method's tier-up, a first-time path in
        // ONNX Runtime's wrapper) can land in one pass; a per-window allocation shows in every pass.
        var sum = 0f;
        var allocated = long.MaxValue;
        for (var pass = 0; pass < 3 && allocated != 0; pass++)
        {
            vad.Reset();
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var w = 0; w < 100; w++)
            {
                sum += vad.Score(audio.AsSpan(w * Window, Window));
            }

            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        // Inputs, state, outputs and the IO binding are created once; a run writes into the bound pinned arrays.
        Assert.Equal(0, allocated);
        Assert.True(sum > 0f);
    }

    private static float[] ScoreAll(IVoiceActivityDetector vad, short[] audio)
    {
        var scores = new float[audio.Length / Window];
        for (var w = 0; w < scores.Length; w++)
        {
            scores[w] = vad.Score(audio.AsSpan(w * Window, Window));
        }

        return scores;
    }
}
