using Parley.Abstractions.Speech;
using Parley.Core.Input;
using Parley.Core.Turns;
using Xunit;

namespace Parley.Core.Tests.Input;

public sealed class SilenceGateTests
{
    private const int Window = 512;

    [Fact]
    public void DigitalSilence_ClosesTheGate_AfterTheModelConfirmedIt()
    {
        var vad = new CountingLevelVad();
        using var windower = new VadWindower(vad, new VadSegmenterOptions(), 16000);
        var silence = new short[Window];
        for (var w = 0; w < 100; w++)
        {
            Assert.Equal(VadEventKind.None, windower.Push(silence).Kind);
        }

        // Scored until CloseAfterWindows (8) quiet windows in a row, then not at all.
        Assert.Equal(new SilenceGateOptions().CloseAfterWindows, vad.Scores);
        Assert.True(windower.Gate.Closed);
        Assert.Equal(100 - vad.Scores, windower.Gate.GatedWindows);
    }

    [Theory]
    [InlineData(-60)]
    [InlineData(-45)]
    public void LowStationaryNoise_ClosesTheGate(double dbfs)
    {
        var vad = new CountingLevelVad();
        using var windower = new VadWindower(vad, new VadSegmenterOptions(), 16000);
        var noise = new Noise(7);
        for (var w = 0; w < 200; w++)
        {
            windower.Push(noise.Next(dbfs));
        }

        Assert.True(windower.Gate.Closed);
        Assert.InRange(vad.Scores, 8, 20); // a few noise peaks early on may reopen it while the floor settles
        Assert.InRange(windower.Gate.NoiseFloorDbfs, dbfs - 3, dbfs + 1);
    }

    [Fact]
    public void Speech_OpensTheGateOnItsFirstWindow_WithTheSameEventsAsUngated_AndScoresThePreRollFirst()
    {
        var gated = Run(new SilenceGateOptions(), out var gatedVad, out var gatedWindower);
        var ungated = Run(new SilenceGateOptions { Enabled = false }, out var ungatedVad, out _);

        Assert.Equal(ungated, gated);
        Assert.Contains(gated, e => e.Kind == VadEventKind.SpeechStarted);
        Assert.Contains(gated, e => e.Kind == VadEventKind.SpeechEnded);
        Assert.True(gatedVad.Scores < ungatedVad.Scores / 2, $"gated {gatedVad.Scores}, ungated {ungatedVad.Scores}");
        Assert.True(gatedWindower.Gate.GatedWindows > 0);

        // The two windows before each onset were scored (the pre-roll), right before the onset window itself.
        var onset = gatedVad.Log.FindIndex(l => l >= 1000);
        Assert.True(onset >= 2);
        Assert.True(gatedVad.Log[onset - 1] < 200 && gatedVad.Log[onset - 2] < 200); // noise, not speech
    }

    [Fact]
    public void NoiseFloor_AdaptsUpToALouderStationaryNoise_AndTheGateClosesAgain()
    {
        var vad = new CountingLevelVad();
        using var windower = new VadWindower(vad, new VadSegmenterOptions(), 16000);
        var noise = new Noise(3);
        for (var w = 0; w < 100; w++)
        {
            windower.Push(noise.Next(-60));
        }

        Assert.True(windower.Gate.Closed);
        var before = vad.Scores;

        // A fan turns on, 20 dB louder: the gate opens at once and the model is asked (it says: not speech).
        windower.Push(noise.Next(-40));
        Assert.False(windower.Gate.Closed);
        Assert.Equal(before + 1 + 2, vad.Scores); // the two pre-roll windows and this one

        // The floor rises at 3 dB/s: after ~7 s it has caught up and the gate closes again.
        for (var w = 0; w < 400; w++)
        {
            windower.Push(noise.Next(-40));
        }

        Assert.True(windower.Gate.Closed);
        Assert.InRange(windower.Gate.NoiseFloorDbfs, -43, -39);
        var settled = vad.Scores;
        for (var w = 0; w < 100; w++)
        {
            windower.Push(noise.Next(-40));
        }

        Assert.Equal(settled, vad.Scores);
    }

    [Fact]
    public void NeverGatesInsideAnUtterance()
    {
        var vad = new CountingLevelVad();
        using var windower = new VadWindower(vad, new VadSegmenterOptions(), 16000);
        var silence = new short[Window];
        var loud = Tone(8000);
        for (var w = 0; w < 20; w++)
        {
            windower.Push(silence);
        }

        for (var w = 0; w < 10; w++)
        {
            windower.Push(loud);
        }

        Assert.Equal(VadPhase.Speaking, windower.Phase);
        var scores = vad.Scores;
        for (var w = 0; w < 10; w++)
        {
            windower.Push(silence); // the 500 ms silence that ends it is scored window by window
        }

        Assert.Equal(scores + 10, vad.Scores);
    }

    [Fact]
    public void Reset_OpensTheGate()
    {
        var vad = new CountingLevelVad();
        using var windower = new VadWindower(vad, new VadSegmenterOptions(), 16000);
        var silence = new short[Window];
        for (var w = 0; w < 20; w++)
        {
            windower.Push(silence);
        }

        Assert.True(windower.Gate.Closed);
        windower.Reset(100_000);
        Assert.False(windower.Gate.Closed);
        var scores = vad.Scores;
        windower.Push(silence);
        Assert.Equal(scores + 1, vad.Scores);
    }

    [Fact]
    public void BadSettings_NameTheField()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new UserInputOptions { SilenceGate = new SilenceGateOptions { CloseAfterWindows = 0 } }.Validate());
        Assert.Equal("CloseAfterWindows", e.ParamName);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => new SilenceGate(new SilenceGateOptions { OpenMarginDb = -1 }, Window, TimeSpan.FromMilliseconds(32)));
        Assert.Equal("OpenMarginDb", e.ParamName);
    }

    /// <summary>2 s of −55 dBFS noise, 1 s at a speech level, 2 s of noise, 0.8 s of speech, 2 s of noise: the events.</summary>
    private static List<(VadEventKind Kind, long Boundary)> Run(SilenceGateOptions options, out CountingLevelVad vad, out VadWindower windower)
    {
        vad = new CountingLevelVad();
        var w8 = new VadWindower(vad, new VadSegmenterOptions(), 16000, options);
        windower = w8;
        var noise = new Noise(11);
        var events = new List<(VadEventKind, long)>();
        void Push(int windows, double dbfs, bool speech)
        {
            for (var w = 0; w < windows; w++)
            {
                var window = noise.Next(dbfs);
                if (speech)
                {
                    var tone = Tone(6000);
                    for (var i = 0; i < window.Length; i++)
                    {
                        window[i] = (short)Math.Clamp(window[i] + tone[i], short.MinValue, short.MaxValue);
                    }
                }

                // 20 ms pieces, as the room gives them, not aligned with the windows.
                for (var at = 0; at < window.Length; at += 320)
                {
                    var (kind, boundary) = w8.Push(window.AsSpan(at, Math.Min(320, window.Length - at)));
                    if (kind != VadEventKind.None)
                    {
                        events.Add((kind, boundary));
                    }
                }
            }
        }

        Push(62, -55, false);
        Push(31, -55, true);
        Push(62, -55, false);
        Push(25, -55, true);
        Push(62, -55, false);
        w8.Dispose();
        return events;
    }

    private static short[] Tone(short amplitude)
    {
        var tone = new short[Window];
        for (var i = 0; i < tone.Length; i++)
        {
            tone[i] = (short)(amplitude * Math.Sin(2 * Math.PI * 220 * i / 16000.0));
        }

        return tone;
    }

    /// <summary>Deterministic white noise at an RMS level.</summary>
    private sealed class Noise(int seed)
    {
        private readonly Random _random = new(seed);

        public short[] Next(double dbfs)
        {
            var window = new short[Window];
            var rms = 32768 * Math.Pow(10, dbfs / 20);
            for (var i = 0; i < window.Length; i++)
            {
                window[i] = (short)Math.Clamp(rms * Math.Sqrt(3) * ((2 * _random.NextDouble()) - 1), short.MinValue, short.MaxValue);
            }

            return window;
        }
    }

    /// <summary>Scores by mean |sample| (≥ 1000: speech) and logs each scored window's mean |sample|.</summary>
    private sealed class CountingLevelVad : IVoiceActivityDetector
    {
        public int WindowSamples => Window;

        public int Scores { get; private set; }

        public List<long> Log { get; } = [];

        public float Score(ReadOnlySpan<short> window)
        {
            Scores++;
            long sum = 0;
            foreach (var s in window)
            {
                sum += Math.Abs((int)s);
            }

            Log.Add(sum / window.Length);
            return sum / window.Length >= 1000 ? 0.95f : 0.02f;
        }

        public void Reset()
        {
        }

        public void Dispose()
        {
        }
    }
}
