using System.Diagnostics;

namespace Parley.Testing.Speech;

/// <summary>Test speech made with Debian's flite (kal16: 16 kHz mono), which pocketsphinx recognises well.</summary>
public static class TestSpeech
{
    /// <summary>16 kHz mono PCM16 of <paramref name="text"/> spoken by flite.</summary>
    public static short[] Flite(string text)
    {
        var file = Path.Combine(Path.GetTempPath(), $"parley-speech-{Guid.NewGuid():N}.wav");
        try
        {
            var start = new ProcessStartInfo("flite") { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var arg in new[] { "-voice", "kal16", "-t", text, "-o", file })
            {
                start.ArgumentList.Add(arg);
            }

            using (var process = Process.Start(start)!)
            {
                process.WaitForExit();
                if (process.ExitCode != 0)
                {
                    throw new InvalidOperationException($"flite failed: {process.StandardError.ReadToEnd()}");
                }
            }

            return ReadWav(File.ReadAllBytes(file));
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>PCM16 samples of a RIFF/WAVE file (the "data" chunk).</summary>
    public static short[] ReadWav(byte[] wav)
    {
        var offset = 12;
        while (offset + 8 <= wav.Length)
        {
            var id = System.Text.Encoding.ASCII.GetString(wav, offset, 4);
            var size = BitConverter.ToInt32(wav, offset + 4);
            if (id == "data")
            {
                size = Math.Min(size, wav.Length - offset - 8);
                var samples = new short[size / 2];
                Buffer.BlockCopy(wav, offset + 8, samples, 0, samples.Length * 2);
                return samples;
            }

            offset += 8 + size + (size & 1);
        }

        throw new InvalidDataException("no data chunk in the WAV file");
    }

    /// <summary><paramref name="milliseconds"/> of silence at 16 kHz.</summary>
    public static short[] Silence(int milliseconds) => new short[16 * milliseconds];
}
