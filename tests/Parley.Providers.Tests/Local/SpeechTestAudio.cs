using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using Xunit;

namespace Parley.Providers.Tests.Local;

/// <summary>
/// Test audio: speech synthesised at test time by flite's 16 kHz "kal16" voice (deterministic output; needs the
/// Debian package flite), silence and seeded white noise, all 16 kHz mono PCM16.
/// </summary>
internal static class SpeechTestAudio
{
    public const int SampleRate = 16000;

    private static readonly ConcurrentDictionary<string, short[]> Cache = new();

    /// <summary>Synthesises <paramref name="text"/> with <c>flite -voice kal16</c> and reads the WAV back.</summary>
    public static short[] Speech(string text) => Cache.GetOrAdd(text, static t =>
    {
        var path = Path.Combine(Path.GetTempPath(), $"parley-speech-{Guid.NewGuid():N}.wav");
        try
        {
            var start = new ProcessStartInfo("flite") { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var argument in (string[])["-voice", "kal16", "-t", t, "-o", path])
            {
                start.ArgumentList.Add(argument);
            }

            using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start flite");
            process.WaitForExit(30_000);
            Assert.True(process.ExitCode == 0, $"flite failed: {process.StandardError.ReadToEnd()}");
            var (samples, rate, channels) = WavReader.Read(File.ReadAllBytes(path));
            Assert.Equal(SampleRate, rate);
            Assert.Equal(1, channels);
            return samples;
        }
        finally
        {
            File.Delete(path);
        }
    });

    public static short[] Silence(TimeSpan duration) => new short[(int)(duration.TotalSeconds * SampleRate)];

    /// <summary>Uniform white noise of peak <paramref name="amplitude"/> (e.g. 300 ≈ −40 dBFS) from a fixed seed.</summary>
    public static short[] WhiteNoise(TimeSpan duration, short amplitude, int seed = 42)
    {
        var random = new Random(seed);
        var samples = new short[(int)(duration.TotalSeconds * SampleRate)];
        for (var i = 0; i < samples.Length; i++)
        {
            samples[i] = (short)random.Next(-amplitude, amplitude + 1);
        }

        return samples;
    }

    public static short[] Concat(params short[][] parts) => parts.SelectMany(p => p).ToArray();
}

/// <summary>A minimal RIFF/WAVE reader for 16-bit PCM files.</summary>
internal static class WavReader
{
    public static (short[] Samples, int SampleRate, int Channels) Read(ReadOnlySpan<byte> file)
    {
        if (file.Length < 12 || !file[..4].SequenceEqual("RIFF"u8) || !file[8..12].SequenceEqual("WAVE"u8))
        {
            throw new InvalidDataException("not a RIFF/WAVE file");
        }

        int sampleRate = 0, channels = 0, bits = 0;
        var offset = 12;
        while (offset + 8 <= file.Length)
        {
            var id = file.Slice(offset, 4);
            var size = BinaryPrimitives.ReadInt32LittleEndian(file.Slice(offset + 4, 4));
            var body = file.Slice(offset + 8, Math.Min(size, file.Length - offset - 8));
            if (id.SequenceEqual("fmt "u8))
            {
                if (BinaryPrimitives.ReadInt16LittleEndian(body) != 1)
                {
                    throw new InvalidDataException("only PCM WAV files are supported");
                }

                channels = BinaryPrimitives.ReadInt16LittleEndian(body[2..]);
                sampleRate = BinaryPrimitives.ReadInt32LittleEndian(body[4..]);
                bits = BinaryPrimitives.ReadInt16LittleEndian(body[14..]);
            }
            else if (id.SequenceEqual("data"u8))
            {
                if (bits != 16)
                {
                    throw new InvalidDataException($"only 16-bit WAV files are supported, got {bits}");
                }

                var samples = new short[body.Length / 2];
                for (var i = 0; i < samples.Length; i++)
                {
                    samples[i] = BinaryPrimitives.ReadInt16LittleEndian(body[(2 * i)..]);
                }

                return (samples, sampleRate, channels);
            }

            offset += 8 + size + (size & 1);
        }

        throw new InvalidDataException("WAV file has no data chunk");
    }
}
