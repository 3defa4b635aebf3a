using Parley.Abstractions.Speech;
using Parley.Core.Output;

namespace Parley.Core.Tests.Output;

/// <summary>The audio-output LLM's voice: PCM16 pieces in any byte split become samples; transcript pieces become timings.</summary>
public sealed class ModelAudioVoiceTests
{
    [Fact]
    public async Task SamplesSplitAcrossPieces_AreJoined_AndTextIsPlacedWhereTheAudioWas()
    {
        var voice = new ModelAudioVoice();
        await using var stream = voice.Open(new TtsRequest(null));
        var input = (ModelAudioVoice.IAudioInput)stream;
        byte[] pcm = [0x01, 0x02, 0x03, 0x04, 0xFF, 0x7F]; // 0x0201, 0x0403, 0x7FFF little-endian
        await stream.PushTextAsync("Hi", CancellationToken.None);
        await input.PushAudioAsync(pcm.AsMemory(0, 3), 24000, CancellationToken.None);
        await input.PushAudioAsync(pcm.AsMemory(3, 1), 24000, CancellationToken.None);
        await stream.PushTextAsync(" there", CancellationToken.None);
        await input.PushAudioAsync(pcm.AsMemory(4, 2), 24000, CancellationToken.None);
        await stream.FlushAsync(CancellationToken.None);

        var samples = new List<short>();
        var words = new List<WordTiming>();
        await foreach (var piece in stream.ReadAsync(CancellationToken.None))
        {
            using var audio = piece.Audio;
            if (!audio.IsEmpty)
            {
                Assert.Equal(24000, audio.SampleRate);
                samples.AddRange(audio.Samples.ToArray());
            }

            if (piece.Word is { } word)
            {
                words.Add(word);
            }
        }

        Assert.Equal([(short)0x0201, (short)0x0403, (short)0x7FFF], samples);
        Assert.Equal([(0, 2), (2, 6)], words.Select(w => (w.TextOffset, w.TextLength)));
        Assert.Equal(TimeSpan.Zero, words[0].Start);
        Assert.InRange(words[1].Start.TotalMicroseconds, 83, 84); // two samples at 24 kHz
    }
}
