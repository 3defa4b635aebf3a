using Parley.Core.Turns;
using Xunit;

namespace Parley.Core.Tests.Turns;

public sealed class VadSegmenterTests
{
    private static readonly TimeSpan Window = TimeSpan.FromMilliseconds(32);

    [Fact]
    public void NoiseBurstShorterThanMinSpeech_NeverStartsSpeech()
    {
        var segmenter = new VadSegmenter(new VadSegmenterOptions { MinSpeechDuration = TimeSpan.FromMilliseconds(200) });
        var script = new Script()
            .Add(0.05f, 320)
            .Add(0.95f, 160) // 5 windows: 160 ms < 200 ms
            .Add(0.05f, 640)
            .Add(0.9f, 96)
            .Add(0.4f, 32) // still above deactivation: 128 ms of "speech"
            .Add(0.1f, 640);

        var events = Run(segmenter, script);

        Assert.Empty(events);
        Assert.Equal(VadPhase.Quiet, segmenter.Phase);
    }

    [Fact]
    public void SpeechThen600msSilence_WithSilenceSegmentation500_OneStartAndOneEndAtTheRightTime()
    {
        var segmenter = new VadSegmenter(new VadSegmenterOptions { SilenceDuration = Ms(500) } with
        {
            MinSpeechDuration = TimeSpan.FromMilliseconds(150),
        });
        var script = new Script()
            .Add(0.02f, 320) // quiet until 320 ms
            .Add(0.9f, 1280) // speech 320..1600 ms
            .Add(0.03f, 608); // silence 1600..2208 ms

        var events = Run(segmenter, script);

        Assert.Equal(2, events.Count);
        var start = events[0];
        Assert.Equal(VadEventKind.SpeechStarted, start.Kind);
        Assert.Equal(Ms(320), start.SpeechBoundary);
        Assert.Equal(Ms(320 + 160), start.At); // 5 windows = 160 ms >= 150 ms of speech
        var end = events[1];
        Assert.Equal(VadEventKind.SpeechEnded, end.Kind);
        Assert.Equal(Ms(1600), end.SpeechBoundary);
        Assert.Equal(Ms(1600 + 512), end.At); // the first window end with >= 500 ms of silence
        Assert.Equal(VadPhase.Quiet, segmenter.Phase);
    }

    [Fact]
    public void PauseOf300msInsideSpeech_DoesNotEndSpeech()
    {
        var segmenter = new VadSegmenter(new VadSegmenterOptions { SilenceDuration = Ms(500) });
        var script = new Script()
            .Add(0.01f, 160)
            .Add(0.8f, 640)
            .Add(0.1f, 288) // ~300 ms pause
            .Add(0.8f, 640)
            .Add(0.1f, 640);

        var events = Run(segmenter, script);

        Assert.Equal([VadEventKind.SpeechStarted, VadEventKind.SpeechEnded], events.Select(e => e.Kind));
        Assert.Equal(Ms(160 + 640 + 288 + 640), events[1].SpeechBoundary);
    }

    [Fact]
    public void ProbabilityBetweenThresholds_KeepsSpeakingButDoesNotStartSpeech()
    {
        var segmenter = new VadSegmenter(new VadSegmenterOptions());
        var quietEvents = Run(segmenter, new Script().Add(0.45f, 1000));
        Assert.Empty(quietEvents);

        var events = Run(segmenter, new Script(Ms(1024)).Add(0.9f, 320).Add(0.45f, 1000));
        Assert.Equal([VadEventKind.SpeechStarted], events.Select(e => e.Kind));
        Assert.Equal(VadPhase.Speaking, segmenter.Phase);
        Assert.True(segmenter.InSpeech);
    }

    [Fact]
    public void LongerSilenceSegmentation_EndsLater()
    {
        var segmenter = new VadSegmenter(new VadSegmenterOptions { SilenceDuration = Ms(1200) });
        var events = Run(segmenter, new Script().Add(0.9f, 640).Add(0.0f, 1100).Add(0.9f, 320).Add(0.0f, 1300));

        Assert.Equal([VadEventKind.SpeechStarted, VadEventKind.SpeechEnded], events.Select(e => e.Kind));
        Assert.True(events[1].At - events[1].SpeechBoundary >= Ms(1200));
    }

    [Fact]
    public void Defaults_SilenceDuration500()
    {
        Assert.Equal(Ms(500), new VadSegmenterOptions().SilenceDuration);
    }

    [Fact]
    public void Constructor_DeactivationAboveActivation_ThrowsNamingTheOption()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(
            () => new VadSegmenter(new VadSegmenterOptions { ActivationThreshold = 0.4f, DeactivationThreshold = 0.6f }));
        Assert.Equal(nameof(VadSegmenterOptions.DeactivationThreshold), error.ParamName);
    }

    [Fact]
    public void Reset_WhileSpeaking_ReturnsToQuietWithoutEvent()
    {
        var segmenter = new VadSegmenter(new VadSegmenterOptions());
        Run(segmenter, new Script().Add(0.9f, 640));
        Assert.True(segmenter.InSpeech);

        segmenter.Reset();

        Assert.Equal(VadPhase.Quiet, segmenter.Phase);
        Assert.Empty(Run(segmenter, new Script(Ms(640)).Add(0.0f, 1000)));
    }

    [Fact]
    public void Process_AllocatesNothingPerWindow()
    {
        var segmenter = new VadSegmenter(new VadSegmenterOptions());
        var probabilities = new Script().Add(0.9f, 640).Add(0.1f, 640).Add(0.9f, 320).Add(0.0f, 1600).Windows;
        var events = 0;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < probabilities.Count; i++)
        {
            var (start, p) = probabilities[i];
            if (!segmenter.Process(p, start).IsNone)
            {
                events++;
            }
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(6, events); // provisional, start, end after 640 ms of silence, provisional, start, end
    }

    private static TimeSpan Ms(int milliseconds) => TimeSpan.FromMilliseconds(milliseconds);

    private static List<VadEvent> Run(VadSegmenter segmenter, Script script)
    {
        var events = new List<VadEvent>();
        foreach (var (start, probability) in script.Windows)
        {
            var e = segmenter.Process(probability, start);
            if (e.Kind is VadEventKind.SpeechStarted or VadEventKind.SpeechEnded)
            {
                events.Add(e); // starts and ends; the provisional start has its own tests (TurnTakingRulesTests)
            }
        }

        return events;
    }

    /// <summary>A synthetic probability sequence: runs of 32 ms windows with one probability each.</summary>
    private sealed class Script(TimeSpan start = default)
    {
        private TimeSpan _next = start;

        public List<(TimeSpan Start, float Probability)> Windows { get; } = [];

        /// <summary>Adds windows of <paramref name="probability"/> covering <paramref name="milliseconds"/> (rounded up to whole windows).</summary>
        public Script Add(float probability, int milliseconds)
        {
            var count = (int)Math.Ceiling(milliseconds / Window.TotalMilliseconds);
            for (var i = 0; i < count; i++)
            {
                Windows.Add((_next, probability));
                _next += Window;
            }

            return this;
        }
    }
}
