using Parley.Abstractions.Audio;

namespace Parley.Media.Tests;

public sealed class AudioBufferPoolTests
{
    [Theory]
    [InlineData(1, 16)]
    [InlineData(16, 16)]
    [InlineData(17, 32)]
    [InlineData(320, 512)]
    [InlineData(512, 512)]
    [InlineData(1600, 2048)]
    [InlineData(AudioBufferPool.MaxPooledLength, AudioBufferPool.MaxPooledLength)]
    [InlineData(AudioBufferPool.MaxPooledLength + 1, AudioBufferPool.MaxPooledLength + 1)]
    public void Rent_GivesThePowerOfTwoSizeClass_AndExactlyWhatIsAskedBeyondTheLargest(int asked, int length)
    {
        var pool = new AudioBufferPool();
        Assert.Equal(length, pool.Rent(asked).Length);
        Assert.Empty(pool.Rent(0));
    }

    [Fact]
    public void ManyBuffersInFlight_AllComeBack_AndAreRentedAgainWithoutAllocating()
    {
        // Shared keeps 32 arrays per size per core: 1000 microphone frames or reply chunks in flight at once (a few dozen
        // talking sessions) overflowed it, and every array beyond that was garbage that lived for seconds.
        var pool = new AudioBufferPool();
        var first = Enumerable.Range(0, 1000).Select(_ => pool.Rent(320)).ToArray();
        foreach (var array in first)
        {
            pool.Return(array);
        }

        Assert.Equal(1000, pool.Retained);
        var again = new short[1000][];
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < again.Length; i++)
        {
            again[i] = pool.Rent(320);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(0, pool.Retained);
        Assert.Equal(first.ToHashSet(ReferenceEqualityComparer.Instance).Count, again.Intersect(first, ReferenceEqualityComparer.Instance).Count());
    }

    [Fact]
    public void Return_DropsArraysThePoolDoesNotRent_WithoutAnError()
    {
        var pool = new AudioBufferPool();
        pool.Return(new short[300]); // not a size class: wrapped by a caller
        pool.Return(new short[8]); // below the smallest
        pool.Return(new short[AudioBufferPool.MaxPooledLength * 2]); // above the largest
        pool.Return(pool.Rent(AudioBufferPool.MaxPooledLength + 1));
        Assert.Equal(0, pool.Retained);
        Assert.Throws<ArgumentNullException>(() => pool.Return(null!));
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(-1));

        var array = pool.Rent(64);
        array[3] = 7;
        pool.Return(array, clearArray: true);
        Assert.Same(array, pool.Rent(64));
        Assert.Equal(0, array[3]);
    }

    [Fact]
    public void EachSizeClass_KeepsAtMostItsCap()
    {
        var pool = new AudioBufferPool();
        var large = new short[AudioBufferPool.MaxPooledLength]; // 2 MB arrays: the byte cap allows only the 64-array floor
        for (var i = 0; i < 70; i++)
        {
            pool.Return(large); // the same array over and over: the pool counts, it does not look for duplicates
        }

        Assert.Equal(64, pool.Retained);

        var small = new AudioBufferPool();
        var tiny = new short[16];
        for (var i = 0; i < AudioBufferPool.MaxArraysPerSize + 10; i++)
        {
            small.Return(tiny);
        }

        Assert.Equal(AudioBufferPool.MaxArraysPerSize, small.Retained);
    }

    [Fact]
    public async Task RentAndReturn_FromManyThreads_LoseNothingAndShareNoArray()
    {
        var pool = new AudioBufferPool();
        var held = new System.Collections.Concurrent.ConcurrentDictionary<short[], byte>(ReferenceEqualityComparer.Instance);
        var clash = 0;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 20_000; i++)
            {
                var array = pool.Rent(320);
                if (!held.TryAdd(array, 0))
                {
                    Interlocked.Increment(ref clash);
                }

                held.TryRemove(array, out var _);
                pool.Return(array);
            }
        })));

        Assert.Equal(0, clash);
        Assert.InRange(pool.Retained, 1, 4);
    }
}
