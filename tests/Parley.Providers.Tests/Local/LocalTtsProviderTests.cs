using System.Diagnostics;
using System.Text.Json.Nodes;
using Parley.Abstractions.Audio;
using Parley.Providers.Local;
using Xunit.Abstractions;

namespace Parley.Providers.Tests.Local;

[Trait("Category", "RealEngine")]
public sealed class LocalTtsProviderTests
{
    private const string Sentence = "Hello, this is a test of the speech system.";

    private const string Paragraph =
        "The quick brown fox jumps over the lazy dog. Speech synthesis turns written words into sound, one small piece at a time. "
        + "A streaming engine hands out audio while it is still working on the rest of the text, so a listener hears the first words early. "
        + "This paragraph is long on purpose, because the test wants to see the first chunk well before the last one. "
        + "Numbers like 1234 and dates like the fourth of July are read out in full. "
        + "Finally, the system reaches the end of the paragraph and stops talking.";

    private readonly LocalTtsProvider _provider = new();
    private readonly ITestOutputHelper _output;

    public LocalTtsProviderTests(ITestOutputHelper output) => _output = output;

    public static TheoryData<string, string, int> Engines => new()
    {
        { "flite", "kal16", 16000 },
        { "flite", "slt", 16000 },
        { "flite", "kal", 8000 },
        { "espeak-ng", "en-us", 22050 },
        { "espeak-ng", "en", 22050 },
    };

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task LocalTts_Sentence_SynthesisesAudibleSpeechOfPlausibleLength(string engine, string voice, int rate)
    {
        var parameters = Params(engine, voice);
        Assert.Null(_provider.Validate(parameters));

        var samples = new List<short>();
        var chunks = 0;
        await foreach (var chunk in _provider.SynthesizeAsync(Sentence, parameters, CancellationToken.None))
        {
            using (chunk)
            {
                Assert.Equal(rate, chunk.SampleRate);
                samples.AddRange(chunk.Samples);
                chunks++;
            }
        }

        var seconds = (double)samples.Count / rate;
        Assert.InRange(seconds, 1.0, 6.0);
        Assert.True(chunks > 1, $"{engine} delivered {chunks} chunk(s); streaming gives several");
        var rms = TestSignal.Rms(samples.ToArray());
        Assert.True(rms > 300, $"RMS {rms:F0} is too quiet for speech");
    }

    [Theory]
    [InlineData("flite", "kal16")]
    [InlineData("espeak-ng", "en-us")]
    public async Task LocalTts_InProcessAudio_MatchesTheEngineCommandLine(string engine, string voice)
    {
        var streamed = new List<short>();
        await foreach (var chunk in _provider.SynthesizeAsync(Sentence, Params(engine, voice), CancellationToken.None))
        {
            using (chunk)
            {
                streamed.AddRange(chunk.Samples);
            }
        }

        var path = Path.Combine(Path.GetTempPath(), $"parley-tts-{Guid.NewGuid():N}.wav");
        try
        {
            var start = engine == "flite"
                ? new ProcessStartInfo("flite") { ArgumentList = { "-voice", voice, "-t", Sentence, "-o", path } }
                : new ProcessStartInfo("espeak-ng") { ArgumentList = { "-v", voice, "-w", path, Sentence } };
            using (var process = Process.Start(start)!)
            {
                await process.WaitForExitAsync();
                Assert.Equal(0, process.ExitCode);
            }

            var reference = ReadWavSamples(path);

            // Same engine, same voice, same tempo and end pause: the streamed chunks put together are the audio
            // the engine's own command line writes (bit-identical in a fresh process; espeak-ng keeps some
            // state between calls, so its waveform phase may drift: compare lengths and energy envelopes).
            Assert.InRange(streamed.Count, reference.Length - 50, reference.Length + 50);
            var correlation = EnvelopeCorrelation(streamed.ToArray(), reference, engine == "flite" ? 16000 : 22050);
            Assert.True(correlation > 0.98, $"correlation with the command line's audio is {correlation:F3}");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("flite", "kal16")]
    [InlineData("espeak-ng", "en-us")]
    public async Task LocalTts_LongParagraph_FirstChunkArrivesBeforeHalfOfSynthesis(string engine, string voice)
    {
        var parameters = Params(engine, voice);
        _ = await FirstChunkAsync(parameters); // warm the engine (library load, voice registration)

        // Twenty paragraphs (about ten minutes of audio): synthesis takes long enough (hundreds of ms) that
        // thread scheduling noise cannot hide whether audio streams out while the engine is still working.
        var text = string.Concat(Enumerable.Repeat(Paragraph + " ", 20));
        var stopwatch = Stopwatch.StartNew();
        TimeSpan? first = null;
        long samples = 0;
        var rate = 0;
        await foreach (var chunk in _provider.SynthesizeAsync(text, parameters, CancellationToken.None))
        {
            using (chunk)
            {
                first ??= stopwatch.Elapsed;
                samples += chunk.Length;
                rate = chunk.SampleRate;
            }
        }

        var total = stopwatch.Elapsed;
        Assert.NotNull(first);
        _output.WriteLine($"{engine}: first chunk {first.Value.TotalMilliseconds:F1} ms, total {total.TotalMilliseconds:F1} ms, audio {(double)samples / rate:F1} s");
        Assert.True(first < total / 2, $"first chunk at {first.Value.TotalMilliseconds:F0} ms, total {total.TotalMilliseconds:F0} ms");
        Assert.InRange((double)samples / rate, 20 * 15, 20 * 60);
    }

    [Theory]
    [InlineData("flite", "kal16")]
    [InlineData("espeak-ng", "en-us")]
    public async Task LocalTts_CancelMidSynthesis_StopsPromptlyAndFreesEngine(string engine, string voice)
    {
        var parameters = Params(engine, voice);
        var longText = string.Concat(Enumerable.Repeat(Paragraph + " ", 10));
        LocalTtsWorker worker = engine == "flite" ? FliteEngine.Shared : EspeakNgEngine.Shared;
        var sentencesBefore = worker.SentencesStarted;
        using var cts = new CancellationTokenSource();
        var stopwatch = new Stopwatch();
        var received = 0;
        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var chunk in _provider.SynthesizeAsync(longText, parameters, cts.Token))
            {
                chunk.Dispose();
                if (++received == 3)
                {
                    stopwatch.Start();
                    await cts.CancelAsync();
                }
            }
        });

        Assert.NotNull(error);
        var endedAfter = stopwatch.ElapsedMilliseconds;
        _output.WriteLine($"{engine}: enumeration ended {endedAfter} ms after cancel");
        Assert.True(endedAfter < 100, $"enumeration ended {endedAfter} ms after cancel");

        // The native engine notices at its next audio callback and the worker goes idle.
        while (!worker.IsIdle && stopwatch.ElapsedMilliseconds < 2000)
        {
            await Task.Delay(5);
        }

        Assert.True(worker.IsIdle, "engine still busy 2 s after cancel");
        var idleAfter = stopwatch.ElapsedMilliseconds;
        var sentences = worker.SentencesStarted - sentencesBefore;
        _output.WriteLine($"{engine}: idle {idleAfter} ms after cancel; {sentences} of 50 sentences started");
        Assert.True(idleAfter < 200, $"engine went idle {idleAfter} ms after cancel");
        Assert.True(sentences < 25, $"{sentences} of 50 sentences were synthesised: cancellation did not stop the work");

        // And it serves the next request.
        Assert.True(await FirstChunkAsync(parameters) > 0);
    }

    [Fact]
    public async Task LocalTts_ConcurrentRequests_BothComplete()
    {
        var flite = Collect(Params("flite", "kal16"));
        var flite2 = Collect(Params("flite", "rms"));
        var espeak = Collect(Params("espeak-ng", "en-us"));
        var lengths = await Task.WhenAll(flite, flite2, espeak);
        Assert.All(lengths, n => Assert.True(n > 16000));
    }

    [Fact]
    public async Task LocalTts_SpeedParameter_ChangesDuration()
    {
        var normal = await Collect(Params("flite", "kal16", 1.0));
        var fast = await Collect(Params("flite", "kal16", 2.0));
        var slowEspeak = await Collect(Params("espeak-ng", "en-us", 0.5));
        var normalEspeak = await Collect(Params("espeak-ng", "en-us", 1.0));
        Assert.InRange((double)fast / normal, 0.4, 0.7);
        Assert.InRange((double)slowEspeak / normalEspeak, 1.5, 2.5);
    }

    [Fact]
    public async Task LocalTts_DefaultParams_UseFliteKal16()
    {
        Assert.Null(_provider.Validate(null));
        await foreach (var chunk in _provider.SynthesizeAsync("Hi.", null, CancellationToken.None))
        {
            using (chunk)
            {
                Assert.Equal(16000, chunk.SampleRate);
            }
        }
    }

    [Fact]
    public async Task LocalTts_PunctuationOnlyText_YieldsNothing()
    {
        var count = 0;
        await foreach (var chunk in _provider.SynthesizeAsync(" ... ", null, CancellationToken.None))
        {
            chunk.Dispose();
            count++;
        }

        Assert.Equal(0, count);
    }

    [Theory]
    [InlineData("""{"engine":"festival"}""", "TTS.Params.engine 'festival'")]
    [InlineData("""{"engine":3}""", "TTS.Params.engine")]
    [InlineData("""{"engine":"flite","voice":"xyz"}""", "TTS.Params.voice 'xyz' is not a flite voice; available: kal16")]
    [InlineData("""{"engine":"espeak-ng","voice":"xx-nowhere"}""", "TTS.Params.voice 'xx-nowhere' is not an espeak-ng voice")]
    [InlineData("""{"speed":0.4}""", "TTS.Params.speed")]
    [InlineData("""{"speed":2.5}""", "TTS.Params.speed")]
    [InlineData("""{"speed":"fast"}""", "TTS.Params.speed")]
    [InlineData("""{"voice":""}""", "TTS.Params.voice")]
    public void LocalTts_Validate_RejectsBadParamsNamingTheField(string json, string expected)
    {
        var error = _provider.Validate(JsonNode.Parse(json)!.AsObject());
        Assert.NotNull(error);
        Assert.Contains(expected, error);
    }

    [Fact]
    public async Task LocalTts_SynthesizeWithBadParams_ThrowsArgumentException()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(async () =>
        {
            await foreach (var chunk in _provider.SynthesizeAsync(Sentence, Params("flite", "xyz"), CancellationToken.None))
            {
                chunk.Dispose();
            }
        });
        Assert.Contains("TTS.Params.voice", error.Message);
    }

    [Fact]
    public void LocalTts_Name_IsLocal() => Assert.Equal("Local", _provider.Name);

    private static short[] ReadWavSamples(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var offset = 12;
        while (offset + 8 <= bytes.Length)
        {
            var id = System.Text.Encoding.ASCII.GetString(bytes, offset, 4);
            var size = BitConverter.ToInt32(bytes, offset + 4);
            if (id == "data")
            {
                size = Math.Min(size, bytes.Length - offset - 8);
                return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, short>(bytes.AsSpan(offset + 8, size & ~1)).ToArray();
            }

            offset += 8 + size;
        }

        throw new InvalidDataException("no data chunk in " + path);
    }

    /// <summary>Correlation of the 10 ms energy envelopes (same words at the same times).</summary>
    private static double EnvelopeCorrelation(short[] a, short[] b, int sampleRate)
    {
        var frame = sampleRate / 100;
        var frames = Math.Min(a.Length, b.Length) / frame;
        var ea = new double[frames];
        var eb = new double[frames];
        for (var f = 0; f < frames; f++)
        {
            ea[f] = TestSignal.Rms(a.AsSpan(f * frame, frame));
            eb[f] = TestSignal.Rms(b.AsSpan(f * frame, frame));
        }

        double ma = ea.Average(), mb = eb.Average(), ab = 0, aa = 0, bb = 0;
        for (var f = 0; f < frames; f++)
        {
            ab += (ea[f] - ma) * (eb[f] - mb);
            aa += (ea[f] - ma) * (ea[f] - ma);
            bb += (eb[f] - mb) * (eb[f] - mb);
        }

        return ab / Math.Sqrt(aa * bb);
    }

    private static JsonObject Params(string engine, string voice, double speed = 1.0) =>
        new() { ["engine"] = engine, ["voice"] = voice, ["speed"] = speed };

    private async Task<int> FirstChunkAsync(JsonObject parameters)
    {
        await foreach (var chunk in _provider.SynthesizeAsync("Warm up.", parameters, CancellationToken.None))
        {
            using (chunk)
            {
                return chunk.Length;
            }
        }

        return 0;
    }

    private async Task<long> Collect(JsonObject parameters)
    {
        long samples = 0;
        await foreach (var chunk in _provider.SynthesizeAsync(Sentence, parameters, CancellationToken.None))
        {
            samples += chunk.Length;
            chunk.Dispose();
        }

        return samples;
    }
}
