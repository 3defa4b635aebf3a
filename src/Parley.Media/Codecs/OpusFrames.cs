namespace Parley.Media.Codecs;

internal static class OpusFrames
{
    public static void CheckSampleRate(int sampleRate, string paramName)
    {
        if (sampleRate is not (8000 or 12000 or 16000 or 24000 or 48000))
        {
            throw new ArgumentOutOfRangeException(paramName, sampleRate, "Opus supports sample rates 8000, 12000, 16000, 24000 and 48000 Hz.");
        }
    }

    public static void CheckChannels(int channels, string paramName)
    {
        if (channels is not (1 or 2))
        {
            throw new ArgumentOutOfRangeException(paramName, channels, "Opus supports 1 or 2 channels.");
        }
    }

    /// <summary>True when <paramref name="samplesPerChannel"/> is 10, 20, 40 or 60 ms at <paramref name="sampleRate"/>.</summary>
    public static bool IsValidFrame(int samplesPerChannel, int sampleRate)
    {
        var perTenMs = sampleRate / 100;
        return samplesPerChannel == perTenMs || samplesPerChannel == 2 * perTenMs
            || samplesPerChannel == 4 * perTenMs || samplesPerChannel == 6 * perTenMs;
    }
}
