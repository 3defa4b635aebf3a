using Parley.Abstractions.Audio;
using Parley.Rtc.Rooms;
using Parley.Server.Rooms;

namespace Parley.Server.Tests.Rooms;

/// <summary>RoomAudioSink's pause (issue 14): writes wait at the sink while paused; resume lets them through; a clear drops them.</summary>
public sealed class RoomAudioSinkPauseTests
{
    [Fact]
    public async Task Pause_HoldsWrites_ResumeReleasesThemInOrder()
    {
        var output = new RecordingOutput();
        var sink = new RoomAudioSink(output);
        await sink.WriteAsync(Chunk(1), CancellationToken.None);
        sink.Pause();
        Assert.True(sink.Paused);
        var held = sink.WriteAsync(Chunk(2), CancellationToken.None).AsTask();
        Assert.False(held.IsCompleted);
        Assert.Equal([(short)1], output.Markers);

        sink.Resume();
        await held.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(sink.Paused);
        Assert.Equal([(short)1, (short)2], output.Markers);
    }

    [Fact]
    public async Task Clear_EndsThePause_AndDropsTheHeldWrite()
    {
        var output = new RecordingOutput();
        var sink = new RoomAudioSink(output);
        sink.Pause();
        var held = sink.WriteAsync(Chunk(7), CancellationToken.None).AsTask();
        sink.Clear();
        await held.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(sink.Paused);
        Assert.Empty(output.Markers);
        Assert.Equal(1, output.Clears);
    }

    private static AudioChunk Chunk(short marker)
    {
        var chunk = AudioChunk.Rent(320, 16000);
        chunk.WritableSpan[..320].Fill(marker);
        return chunk.WithLength(320);
    }

    private sealed class RecordingOutput : IRoomAudioOutput
    {
        public List<short> Markers { get; } = [];

        public int Clears { get; private set; }

        public string StreamId => "s";

        public TimeSpan Pending => TimeSpan.Zero;

        public ValueTask WriteAsync(AudioChunk chunk, CancellationToken cancellationToken)
        {
            using (chunk)
            {
                lock (Markers)
                {
                    Markers.Add(chunk.Samples[0]);
                }
            }

            return ValueTask.CompletedTask;
        }

        public void Clear() => Clears++;

        public Task WaitUntilPlayedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
