using System.Threading.Channels;
using Parley.Media;

namespace Parley.Media.Tests;

/// <summary><see cref="ChannelWaiter{T}"/>: a cancellable wait for a channel's data that allocates nothing per wait.</summary>
public sealed class ChannelWaiterTests
{
    [Fact]
    public async Task Wait_CompletesWhenAnItemArrives_AndFalseWhenTheChannelCompletes()
    {
        var channel = Channel.CreateBounded<int>(4);
        using var cts = new CancellationTokenSource();
        using var waiter = new ChannelWaiter<int>(channel.Reader, cts.Token);

        var first = waiter.WaitToReadAsync();
        Assert.False(first.IsCompleted);
        Assert.True(channel.Writer.TryWrite(1));
        Assert.True(await first.AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(channel.Reader.TryRead(out var item));
        Assert.Equal(1, item);

        Assert.True(channel.Writer.TryWrite(2));
        var ready = waiter.WaitToReadAsync();
        Assert.True(ready.IsCompletedSuccessfully); // queued data: no wait at all
        Assert.True(await ready);
        Assert.True(channel.Reader.TryRead(out _));

        var last = waiter.WaitToReadAsync();
        channel.Writer.Complete();
        Assert.False(await last.AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Cancel_EndsAPendingWait_AndEveryLaterOne()
    {
        var channel = Channel.CreateBounded<int>(4);
        using var cts = new CancellationTokenSource();
        using var waiter = new ChannelWaiter<int>(channel.Reader, cts.Token);

        var pending = waiter.WaitToReadAsync().AsTask();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Throws<OperationCanceledException>(() => waiter.WaitToReadAsync());

        // The channel's own wait, left pending, does nothing when data comes later.
        Assert.True(channel.Writer.TryWrite(1));
    }

    [Fact]
    public void Wait_AllocatesNothingPerCall_WhereTheChannelsCancellableWaitDoes()
    {
        var channel = Channel.CreateBounded<int>(new BoundedChannelOptions(4) { SingleReader = true });
        using var cts = new CancellationTokenSource();
        using var waiter = new ChannelWaiter<int>(channel.Reader, cts.Token);
        Cycle(() => waiter.WaitToReadAsync(), channel); // warm up

        long ours = 0, theirs = 0;
        for (var i = 0; i < 100; i++)
        {
            ours += Cycle(() => waiter.WaitToReadAsync(), channel);
        }

        for (var i = 0; i < 100; i++)
        {
            theirs += Cycle(() => channel.Reader.WaitToReadAsync(cts.Token), channel);
        }

        Assert.True(theirs > 0, "the channel's cancellable wait should allocate (the reason for the waiter)");
        Assert.Equal(0, ours);
    }

    /// <summary>Arms a wait on an empty channel (the measured part), then writes, lets it complete and reads the item.</summary>
    private static long Cycle(Func<ValueTask<bool>> wait, Channel<int> channel)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var pending = wait();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.False(pending.IsCompleted);
        Assert.True(channel.Writer.TryWrite(7));
        var spin = new SpinWait();
        while (!pending.IsCompleted)
        {
            spin.SpinOnce();
        }

        Assert.True(pending.Result);
        Assert.True(channel.Reader.TryRead(out _));
        return allocated;
    }
}
