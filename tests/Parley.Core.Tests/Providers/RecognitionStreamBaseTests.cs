using System.Threading.Channels;
using Parley.Abstractions.Speech;
using Parley.Core.Providers;

namespace Parley.Core.Tests.Providers;

public sealed class RecognitionStreamBaseTests
{
    /// <summary>A hang guard only: every wait below completes as soon as the stream does its part.</summary>
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task PiecesReachTheVendorInOrder_CopiedAtPush_OneFinalPerUtterance()
    {
        await using var stream = new EchoStream(capacity: 16);
        var samples = new short[] { 1 };
        await stream.PushAsync(samples, CancellationToken.None);
        samples[0] = 99; // the stream copied the first push; reusing the caller's buffer changes nothing
        await stream.PushAsync(new short[] { 2, 2 }, CancellationToken.None);
        await stream.PushAsync(ReadOnlyMemory<short>.Empty, CancellationToken.None); // ignored
        await stream.PushAsync(new short[] { 3, 3, 3 }, CancellationToken.None);
        await stream.EndUtteranceAsync(CancellationToken.None);
        await stream.EndUtteranceAsync(CancellationToken.None);
        await stream.PushAsync(new short[] { 4 }, CancellationToken.None);
        await stream.EndUtteranceAsync(CancellationToken.None);

        var finals = await ReadFinalsAsync(stream, 3);

        Assert.Equal(["1x1 2x2 3x3", "", "4x1"], finals);
    }

    [Fact]
    public async Task Pushes_DoNotWaitForRecognition_UntilTheQueueIsFull_ThenWaitRatherThanDrop()
    {
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var stream = new EchoStream(capacity: 4, hold);
        await stream.Reading.Task.WaitAsync(Guard); // the vendor read one piece and holds on

        for (var i = 0; i < 4; i++)
        {
            Assert.True(stream.PushAsync(new short[] { (short)(10 + i) }, CancellationToken.None).IsCompletedSuccessfully);
        }

        var waiting = stream.PushAsync(new short[] { 20 }, CancellationToken.None).AsTask();
        Assert.False(waiting.IsCompleted);

        hold.SetResult();
        await waiting.WaitAsync(Guard);
        await stream.EndUtteranceAsync(CancellationToken.None);
        Assert.Equal(["0x1 10x1 11x1 12x1 13x1 20x1"], await ReadFinalsAsync(stream, 1));
    }

    [Fact]
    public async Task VendorFailure_EndsResultsWithTheException_AndLaterPushesFailWithIt()
    {
        var failure = new IOException("vendor connection broke");
        var stream = new EchoStream(capacity: 16, failOn: 7, failure: failure);
        await stream.PushAsync(new short[] { 1 }, CancellationToken.None);
        await stream.EndUtteranceAsync(CancellationToken.None);
        await stream.PushAsync(new short[] { 7 }, CancellationToken.None);

        var results = new List<SpeechRecognitionResult>();
        var thrown = await Assert.ThrowsAsync<IOException>(async () =>
        {
            await foreach (var result in stream.Results(CancellationToken.None).WithCancellation(CancellationToken.None))
            {
                results.Add(result);
            }
        }).WaitAsync(Guard);

        Assert.Same(failure, thrown);
        Assert.Equal([new SpeechRecognitionResult("1x1", false), new SpeechRecognitionResult("1x1", true)], results);
        Assert.Equal([failure], stream.Failures);
        await stream.Completion.WaitAsync(Guard);
        Assert.True(stream.VendorCleanedUp);

        var push = await Assert.ThrowsAsync<InvalidOperationException>(async () => await stream.PushAsync(new short[] { 2 }, CancellationToken.None));
        Assert.Same(failure, push.InnerException);
        Assert.Contains("Echo", push.Message, StringComparison.Ordinal);
        var end = await Assert.ThrowsAsync<InvalidOperationException>(async () => await stream.EndUtteranceAsync(CancellationToken.None));
        Assert.Same(failure, end.InnerException);

        await stream.DisposeAsync(); // a failed stream still disposes cleanly
        Assert.Single(stream.Failures);
    }

    [Fact]
    public async Task Dispose_StopsTheVendor_EndsResultsQuietly_AndRefusesPushes()
    {
        var stream = new EchoStream(capacity: 16);
        await stream.PushAsync(new short[] { 5 }, CancellationToken.None);
        await stream.Reading.Task.WaitAsync(Guard);
        var results = Task.Run(async () =>
        {
            await foreach (var result in stream.Results(CancellationToken.None))
            {
                Assert.False(result.IsFinal);
            }
        });

        await stream.DisposeAsync().AsTask().WaitAsync(Guard);
        await stream.DisposeAsync(); // twice is fine

        Assert.True(stream.VendorCleanedUp);
        await results.WaitAsync(Guard); // ends without an exception
        Assert.Empty(stream.Failures);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await stream.PushAsync(new short[] { 1 }, CancellationToken.None));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await stream.EndUtteranceAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Dispose_EndsAVendorBlockedOnResultsNobodyReads()
    {
        var stream = new EchoStream(capacity: 256);
        for (var i = 0; i < 100; i++)
        {
            await stream.EndUtteranceAsync(CancellationToken.None); // 100 finals; the results queue holds 64
        }

        await stream.Finals.Task.WaitAsync(Guard);
        await stream.DisposeAsync().AsTask().WaitAsync(Guard);
        Assert.True(stream.VendorCleanedUp);
        Assert.Empty(stream.Failures);
    }

    [Fact]
    public async Task VendorWaitsForInput_WithTheStopToken_AllocateNothing_AndEndAtDispose()
    {
        // A cancellable channel wait allocates an operation and a token registration each time: per 20 ms piece of
        // every speaking session. The vendor's input serves them with the channel's one reusable waiter.
        var stream = new WaitProbeStream();
        for (var i = 0; i < 20; i++)
        {
            await stream.Waiting.WaitAsync(Guard); // the vendor is waiting on an empty input
            await stream.PushAsync(new short[] { (short)i }, CancellationToken.None);
        }

        await stream.Waiting.WaitAsync(Guard);
        await stream.DisposeAsync().AsTask().WaitAsync(Guard); // ends the wait: dispose completes the input first
        Assert.True(stream.Ended);
        Assert.Equal(20, stream.Read);
        Assert.True(stream.PendingWaitBytes.Count >= 20);
        Assert.All(stream.PendingWaitBytes.Skip(1), bytes => Assert.Equal(0, bytes));
    }

    private static async Task<List<string>> ReadFinalsAsync(ISpeechRecognitionStream stream, int count)
    {
        var finals = new List<string>();
        using var cts = new CancellationTokenSource(Guard);
        await foreach (var result in stream.Results(cts.Token))
        {
            if (result.IsFinal)
            {
                finals.Add(result.Text);
                if (finals.Count == count)
                {
                    break;
                }
            }
        }

        return finals;
    }

    /// <summary>
    /// A vendor that "recognises" each piece as first-sample x length; holds after its first piece while
    /// <see cref="Hold"/> is set (pushing a piece of its own, 0x1, so the test knows it is reading).
    /// </summary>
    private sealed class EchoStream : RecognitionStreamBase
    {
        // Settings come through the constructor: the worker starts at its end (Start), before any object initializer.
        public EchoStream(int capacity, TaskCompletionSource? hold = null, short failOn = short.MinValue, Exception? failure = null)
            : base("Echo", capacity)
        {
            Hold = hold;
            FailOn = failOn;
            Failure = failure;
            Start();
        }

        public TaskCompletionSource? Hold { get; }

        public TaskCompletionSource Reading { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes when the vendor is blocked writing a final (the results queue is full).</summary>
        public TaskCompletionSource Finals { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public short FailOn { get; }

        public Exception? Failure { get; }

        public List<Exception> Failures { get; } = [];

        public bool VendorCleanedUp { get; private set; }

        protected override void OnFailed(Exception exception) => Failures.Add(exception);

        protected override async Task RunAsync(ChannelReader<AudioPiece> input, ChannelWriter<SpeechRecognitionResult> results, CancellationToken cancellationToken)
        {
            var words = new List<string>();
            try
            {
                if (Hold is not null)
                {
                    words.Add("0x1");
                    Reading.TrySetResult();
                    await Hold.Task.WaitAsync(cancellationToken);
                }

                while (await input.WaitToReadAsync(cancellationToken))
                {
                    while (input.TryRead(out var piece))
                    {
                        Reading.TrySetResult();
                        if (piece.IsEndOfUtterance)
                        {
                            var final = new SpeechRecognitionResult(string.Join(' ', words), IsFinal: true);
                            words.Clear();
                            if (!results.TryWrite(final))
                            {
                                Finals.TrySetResult();
                                await results.WriteAsync(final, cancellationToken);
                            }

                            continue;
                        }

                        var first = piece.Samples[0];
                        var length = piece.Length;
                        piece.Return();
                        if (first == FailOn)
                        {
                            throw Failure!;
                        }

                        words.Add($"{first}x{length}");
                        results.TryWrite(new SpeechRecognitionResult(string.Join(' ', words), IsFinal: false));
                    }
                }
            }
            finally
            {
                VendorCleanedUp = true;
            }
        }
    }

    /// <summary>A vendor that records what starting each input wait allocated on its thread when the wait was pending.</summary>
    private sealed class WaitProbeStream : RecognitionStreamBase
    {
        public WaitProbeStream()
            : base("Probe", 16) => Start();

        public SemaphoreSlim Waiting { get; } = new(0);

        public List<long> PendingWaitBytes { get; } = [];

        public int Read { get; private set; }

        public bool Ended { get; private set; }

        protected override async Task RunAsync(ChannelReader<AudioPiece> input, ChannelWriter<SpeechRecognitionResult> results, CancellationToken cancellationToken)
        {
            while (true)
            {
                var before = GC.GetAllocatedBytesForCurrentThread();
                var wait = input.WaitToReadAsync(cancellationToken);
                var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                if (!wait.IsCompleted)
                {
                    PendingWaitBytes.Add(allocated);
                    Waiting.Release();
                }

                if (!await wait.ConfigureAwait(false))
                {
                    Ended = true;
                    return;
                }

                while (input.TryRead(out var piece))
                {
                    piece.Return();
                    Read++;
                }
            }
        }
    }
}
