using System.Threading.Channels;
using Parley.Abstractions.Audio;
using Parley.Abstractions.Speech;
using Parley.Core.Providers;

namespace Parley.Core.Tests.Providers;

public sealed class TtsStreamBaseTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task TokenDeltas_StreamIn_AudioAndWordTimingsStreamOut_UntilTheFlush()
    {
        await using var stream = new WordStream();
        var read = ReadAllAsync(stream);
        foreach (var delta in new[] { "Hel", "lo ", "world", " again" })
        {
            await stream.PushTextAsync(delta, CancellationToken.None);
        }

        await stream.FlushAsync(CancellationToken.None);
        var pieces = await read.WaitAsync(Guard);

        Assert.Equal(["Hello", "world", "again"], pieces.Where(p => p.Word is not null).Select(p => p.Word!.Value.Text));
        Assert.Equal(
            [new WordTiming("Hello", 0, 5, TimeSpan.Zero, TimeSpan.FromMilliseconds(50)),
             new WordTiming("world", 6, 5, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(100)),
             new WordTiming("again", 12, 5, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(150))],
            pieces.Select(p => p.Word!.Value));
        Assert.All(pieces, p => Assert.Equal(800, p.Samples));
    }

    [Fact]
    public async Task VendorFailure_EndsTheReadWithIt_AndLaterPushesFail()
    {
        await using var stream = new WordStream { FailOn = "boom" };
        await stream.PushTextAsync("fine boom ", CancellationToken.None);

        var thrown = await Assert.ThrowsAsync<IOException>(() => ReadAllAsync(stream).WaitAsync(Guard));
        Assert.Equal("vendor dropped the task", thrown.Message);
        var push = await Assert.ThrowsAsync<InvalidOperationException>(async () => await stream.PushTextAsync("more", CancellationToken.None));
        Assert.IsType<IOException>(push.InnerException);
    }

    [Fact]
    public async Task Dispose_StopsTheVendor_AndReleasesAudioNobodyRead()
    {
        var stream = new WordStream();
        await stream.PushTextAsync("one two three ", CancellationToken.None);
        await stream.Written.Task.WaitAsync(Guard);

        await stream.DisposeAsync().AsTask().WaitAsync(Guard);
        await stream.DisposeAsync();

        Assert.True(stream.VendorCleanedUp);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await stream.PushTextAsync("more", CancellationToken.None));
        Assert.Throws<ObjectDisposedException>(() => stream.ReadAsync(CancellationToken.None));
    }

    private static async Task<List<(int Samples, WordTiming? Word)>> ReadAllAsync(ITtsStream stream)
    {
        var pieces = new List<(int, WordTiming?)>();
        await foreach (var piece in stream.ReadAsync(CancellationToken.None))
        {
            using (piece.Audio)
            {
                pieces.Add((piece.Audio.Length, piece.Word));
            }
        }

        return pieces;
    }

    /// <summary>A streaming vendor: speaks each completed word (50 ms of audio at 16 kHz) with its timing.</summary>
    private sealed class WordStream : TtsStreamBase
    {
        public string? FailOn { get; init; }

        public bool VendorCleanedUp { get; private set; }

        public TaskCompletionSource Written { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override async Task RunAsync(ChannelReader<string> text, ChannelWriter<TtsAudio> audio, CancellationToken cancellationToken)
        {
            var pushed = string.Empty;
            var wordStart = 0;
            var position = TimeSpan.Zero;
            try
            {
                while (await text.WaitToReadAsync(cancellationToken))
                {
                    while (text.TryRead(out var delta))
                    {
                        pushed += delta;
                        int space;
                        while ((space = pushed.IndexOf(' ', wordStart)) >= 0)
                        {
                            position = await SpeakAsync(pushed, wordStart, space - wordStart, position, audio, cancellationToken);
                            wordStart = space + 1;
                        }
                    }
                }

                if (wordStart < pushed.Length)
                {
                    await SpeakAsync(pushed, wordStart, pushed.Length - wordStart, position, audio, cancellationToken);
                }
            }
            finally
            {
                VendorCleanedUp = true;
            }
        }

        private async Task<TimeSpan> SpeakAsync(string pushed, int offset, int length, TimeSpan start, ChannelWriter<TtsAudio> audio, CancellationToken cancellationToken)
        {
            if (length == 0)
            {
                return start;
            }

            var word = pushed.Substring(offset, length);
            if (word == FailOn)
            {
                throw new IOException("vendor dropped the task");
            }

            var chunk = AudioChunk.Rent(800, 16000);
            var end = start + chunk.Duration;
            await audio.WriteAsync(new TtsAudio(chunk, new WordTiming(word, offset, length, start, end)), cancellationToken);
            Written.TrySetResult();
            return end;
        }
    }
}
