using System.Globalization;
using Parley.Core.Turns;
using Parley.Providers.Local;
using Parley.Testing.Speech;
using Xunit;
using Xunit.Abstractions;

namespace Parley.Providers.Tests.Local;

[Trait("Category", "RealEngine")]
public sealed class SileroOnsetTimelineTests(SileroVadFixture fixture, ITestOutputHelper output) : IClassFixture<SileroVadFixture>
{
    private const int Window = 512;

    /// <summary>
    /// Pins the speech-start latency from the audio, not a wall clock: for flite utterances with their quiet ends cut
    /// (<see cref="SpeechTrim.QuietEnds"/>), at every 64-sample alignment of the 512-sample windows, the segmenter (defaults, real
    /// Silero) starts speech at most 7 windows (224 ms) after the first 20 ms block louder than −35 dBFS RMS — the
    /// audible onset. Today it takes 5–6 windows: MinSpeechDuration (150 ms → 5 windows) plus the alignment. The
    /// timeline is printed: the peak trim keeps flite's leading near-silence (−45…−57 dBFS, ~216 ms on the weather
    /// question), which is why the load generator starts its clips at the audible onset (<see cref="SpeechTrim.ToVoice"/>).
    /// </summary>
    [Theory]
    [InlineData("What is the weather like today?")]
    [InlineData("Good morning, how are you?")]
    //// Not "Stop please…": its /s/ scores 0.3–0.8 and the /t/ closure dips below the deactivation threshold, which
    //// sends the segmenter back to quiet; at some alignments speech starts only 5 windows into the vowel (~280 ms
    //// after the audible /s/). A known limit of the state machine, not pinned here.
    public void SpeechStart_WithinSevenWindowsOfTheAudibleOnset_AtEveryWindowAlignment(string text)
    {
        var speech = SpeechTrim.QuietEnds(SpeechTestAudio.Speech(text));
        var audible = SpeechTrim.AudibleOnset(speech);
        Assert.True(audible >= 0, "no audible block");
        for (var phase = 0; phase < Window; phase += 64)
        {
            var lead = SpeechTestAudio.Silence(TimeSpan.FromSeconds(1) + TimeSpan.FromTicks(phase * 625L));
            var audio = SpeechTestAudio.Concat(lead, speech, SpeechTestAudio.Silence(TimeSpan.FromSeconds(1)));
            using var vad = fixture.Factory.Create();
            var segmenter = new VadSegmenter(new VadSegmenterOptions());
            var line = new System.Text.StringBuilder();
            double? decided = null;
            for (var w = 0; (w + 1) * Window <= audio.Length && decided is null; w++)
            {
                var p = vad.Score(audio.AsSpan(w * Window, Window));
                var e = segmenter.Process(p, TimeSpan.FromTicks(w * Window * 625L));
                var rel = ((w * Window) - lead.Length) / 16.0;
                if (rel >= -64)
                {
                    line.Append(CultureInfo.InvariantCulture, $"{rel:F0}:{p:F2} ");
                }

                if (e.Kind == VadEventKind.SpeechStarted)
                {
                    decided = ((w + 1) * Window - lead.Length) / 16.0;
                }
            }

            var audibleMs = audible / 16.0;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{text} phase {phase}: audible at {audibleMs:F0} ms, speech start {decided:F0} ms after the trimmed start; {line}"));
            Assert.NotNull(decided);
            Assert.InRange(decided.Value - audibleMs, 0, 7 * 32);
        }
    }
}
