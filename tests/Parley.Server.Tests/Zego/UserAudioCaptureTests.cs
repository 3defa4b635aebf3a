using Parley.Abstractions.Speech;
using Parley.Server.Zego;

namespace Parley.Server.Tests.Zego;

/// <summary>UserAudioData (callbacks/receiving-callback.mdx): the first 1–1.5 s of the user's speech; nothing under 1 s.</summary>
public sealed class UserAudioCaptureTests
{
    [Fact]
    public async Task KeepsTheFirstSecondAndAHalf_OfEachUtterance_AndPassesEverythingOn()
    {
        var inner = new CountingStream();
        var heard = new List<(string Audio, int Samples)>();
        await using var capture = new UserAudioCapture(inner, (audio, samples) => heard.Add((audio, samples)));

        // 2 s of speech in 20 ms frames whose samples count up: the callback holds the first 1.5 s, in order.
        for (var frame = 0; frame < 100; frame++)
        {
            await capture.PushAsync(Enumerable.Range(frame * 320, 320).Select(i => (short)(i % 30000)).ToArray(), CancellationToken.None);
        }

        await capture.EndUtteranceAsync(CancellationToken.None);
        var (audio, samples) = Assert.Single(heard);
        Assert.Equal(24000, samples);
        var bytes = Convert.FromBase64String(audio);
        Assert.Equal(48000, bytes.Length);
        Assert.Equal(23999 % 30000, BitConverter.ToInt16(bytes, bytes.Length - 2));
        Assert.Equal(32000, inner.Pushed);
        Assert.Equal(1, inner.Ends);

        // A 0.6 s utterance: no callback; the next long one starts from its own beginning.
        for (var frame = 0; frame < 30; frame++)
        {
            await capture.PushAsync(new short[320], CancellationToken.None);
        }

        await capture.EndUtteranceAsync(CancellationToken.None);
        Assert.Single(heard);
        for (var frame = 0; frame < 60; frame++)
        {
            await capture.PushAsync(Enumerable.Repeat((short)7, 320).ToArray(), CancellationToken.None);
        }

        await capture.EndUtteranceAsync(CancellationToken.None);
        Assert.Equal(2, heard.Count);
        Assert.Equal(19200, heard[1].Samples);
        Assert.Equal(7, BitConverter.ToInt16(Convert.FromBase64String(heard[1].Audio), 0));
    }

    private sealed class CountingStream : ISpeechRecognitionStream
    {
        public int Pushed { get; private set; }

        public int Ends { get; private set; }

        public ValueTask PushAsync(ReadOnlyMemory<short> samples, CancellationToken cancellationToken)
        {
            Pushed += samples.Length;
            return ValueTask.CompletedTask;
        }

        public ValueTask EndUtteranceAsync(CancellationToken cancellationToken)
        {
            Ends++;
            return ValueTask.CompletedTask;
        }

        public async IAsyncEnumerable<SpeechRecognitionResult> Results([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await Task.CompletedTask;
            yield break;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
