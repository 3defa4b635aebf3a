using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;
using Parley.Abstractions.Audio;
using Parley.Abstractions.Media;
using Parley.Core.Agents;
using Parley.Core.Input;
using static Parley.Core.Tests.Voice.ScriptAudio;

namespace Parley.Core.Tests.Voice;

/// <summary>
/// The echo reference (<see cref="PlayedAudioTap"/>): what the sink played reaches the input processors' far end at the
/// microphone frame after it left the sink, in order; nothing played is silence; cleared audio never arrives; the copy
/// stays bounded.
/// </summary>
public sealed class PlayedAudioTapTests
{
    private const int Frame = 320;
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task PlayedFrames_ReachTheFarEnd_InOrder_AtTheNextMicrophoneFrame()
    {
        await using var rig = new Rig();
        var a = Marked(1);
        var b = Marked(1001);
        await rig.Tap.WriteAsync(Chunk(a), CancellationToken.None);
        await rig.Tap.WriteAsync(Chunk(b), CancellationToken.None);

        await rig.MicFrameAsync(); // nothing has left the sink yet
        rig.Sink.Played = Frame; // a leaves
        await rig.MicFrameAsync();
        rig.Sink.Played = 2 * Frame; // b leaves
        await rig.MicFrameAsync();
        await rig.MicFrameAsync(); // nothing more

        var far = rig.Far.ToArray();
        Assert.Equal(4 * Frame, far.Length);
        Assert.All(far[..Frame], s => Assert.Equal(0, s));
        Assert.Equal(a, far[Frame..(2 * Frame)]);
        Assert.Equal(b, far[(2 * Frame)..(3 * Frame)]);
        Assert.All(far[(3 * Frame)..], s => Assert.Equal(0, s));
    }

    [Fact]
    public async Task PlayedInPieces_ArrivesWhole_AndInOrder()
    {
        // Playback moves by 100 samples per microphone frame (a slower sink): the reference is each frame's 100 samples.
        await using var rig = new Rig();
        var audio = Enumerable.Range(1, 1000).Select(i => (short)i).ToArray();
        await rig.Tap.WriteAsync(Chunk(audio), CancellationToken.None);
        for (var i = 1; i <= 10; i++)
        {
            rig.Sink.Played = i * 100;
            await rig.MicFrameAsync();
        }

        var far = rig.Far.ToArray();
        var heard = far.Where(s => s != 0).ToArray();
        Assert.Equal(audio, heard);
        Assert.Equal(audio[..100], far[..100]); // at the start of the frame after it was played
    }

    [Fact]
    public async Task NothingPlayed_FarEndIsSilence()
    {
        await using var rig = new Rig();
        await rig.Tap.WriteAsync(Chunk(Marked(1)), CancellationToken.None); // queued, never played (paused)
        for (var i = 0; i < 10; i++)
        {
            await rig.MicFrameAsync();
        }

        Assert.Equal(10 * Frame, rig.Far.Count);
        Assert.All(rig.Far, s => Assert.Equal(0, s));
    }

    [Fact]
    public async Task ClearedAudio_NeverReachesTheFarEnd_LaterSpeechDoes()
    {
        await using var rig = new Rig();
        var a = Marked(1);
        var c = Marked(3001);
        await rig.Tap.WriteAsync(Chunk(a), CancellationToken.None);
        await rig.Tap.WriteAsync(Chunk(Marked(1001)), CancellationToken.None);
        rig.Sink.Played = Frame;
        rig.Tap.Clear(); // the second frame is dropped unplayed
        await rig.Tap.WriteAsync(Chunk(c), CancellationToken.None);
        await rig.MicFrameAsync();
        rig.Sink.Played = 2 * Frame;
        await rig.MicFrameAsync();

        var far = rig.Far.ToArray();
        Assert.Equal(a, far[..Frame]);
        Assert.Equal(c, far[Frame..(2 * Frame)]);
        Assert.Equal(1, rig.Sink.Clears);
    }

    [Fact]
    public async Task LongPlayback_FedEveryFrame_NeverGrowsTheCopy()
    {
        await using var rig = new Rig();
        var capacity = rig.Tap.Capacity;
        for (var i = 1; i <= 3000; i++) // 60 s
        {
            await rig.Tap.WriteAsync(Chunk(Marked(i)), CancellationToken.None);
            rig.Sink.Played = i * Frame;
            rig.Tap.Feed(rig.Pipeline);
        }

        Assert.Equal(capacity, rig.Tap.Capacity);
    }

    [Fact]
    public async Task LongPlayback_WithoutMicrophoneFrames_StaysBounded_AndFeedsOnlyTheLastSecond()
    {
        // The user's stream stalls while the agent talks for a minute: the played copy is dropped after a second
        // instead of kept (and grown for) until a frame comes.
        await using var rig = new Rig();
        var capacity = rig.Tap.Capacity;
        for (var i = 1; i <= 3000; i++)
        {
            await rig.Tap.WriteAsync(Chunk(Marked(i)), CancellationToken.None);
            rig.Sink.Played = i * Frame;
        }

        Assert.Equal(capacity, rig.Tap.Capacity);
        await rig.MicFrameAsync();
        Assert.Equal(Frame, rig.Far.Count); // the reference for this frame: its first 320 samples of what was kept
    }

    [Fact]
    public async Task WritingFarAhead_GrowsOnceToHoldIt_ThenNoMore()
    {
        await using var rig = new Rig();
        var ahead = new short[16000 * 10]; // 10 s queued at once, more than the ring holds
        await rig.Tap.WriteAsync(Chunk(ahead), CancellationToken.None);
        var grown = rig.Tap.Capacity;
        Assert.True(grown >= ahead.Length);
        for (var i = 1; i <= 500; i++)
        {
            rig.Sink.Played = i * Frame;
            rig.Tap.Feed(rig.Pipeline);
            await rig.Tap.WriteAsync(Chunk(Marked(i)), CancellationToken.None);
        }

        Assert.Equal(grown, rig.Tap.Capacity);
    }

    private static short[] Marked(int first) => Enumerable.Range(first, Frame).Select(i => (short)i).ToArray();

    private static AudioChunk Chunk(short[] samples) => AudioChunk.CopyOf(samples, Rate);

    /// <summary>A tap over a hand-moved sink, a pipeline whose one processor records its far end, and the microphone.</summary>
    private sealed class Rig : IAsyncDisposable
    {
        private readonly FakeTimeProvider _time = new(T0);
        private readonly Channel<AudioChunk> _mic = Channel.CreateUnbounded<AudioChunk>();
        private readonly FarRecorder _recorder = new();
        private readonly PlayedAudioTap.FeedingReader _reader;

        public Rig()
        {
            Tap = new PlayedAudioTap(Sink);
            Pipeline = new UserInputPipeline(TurnOptions(), new LevelVad(), () => new ScriptedRecognizer(), _time, [_recorder]);
            _reader = new PlayedAudioTap.FeedingReader(_mic.Reader, Tap, Pipeline);
        }

        public HandSink Sink { get; } = new();

        public PlayedAudioTap Tap { get; }

        public UserInputPipeline Pipeline { get; }

        public List<short> Far => _recorder.Far;

        /// <summary>One silent 20 ms microphone frame read the way the agent reads it (the tap feeds first), then processed.</summary>
        public async Task MicFrameAsync()
        {
            _mic.Writer.TryWrite(Chunk(new short[Frame]));
            Assert.True(_reader.TryRead(out var frame));
            using (frame)
            {
                await Pipeline.PushAsync(frame.Memory, CancellationToken.None);
            }

            _time.Advance(TimeSpan.FromMilliseconds(20));
        }

        public ValueTask DisposeAsync() => Pipeline.DisposeAsync();
    }

    private sealed class FarRecorder : IAudioInputProcessor
    {
        public List<short> Far { get; } = [];

        public void Process(Span<short> nearEnd, ReadOnlySpan<short> farEnd) => Far.AddRange(farEnd);
    }

    /// <summary>A sink whose played position the test moves by hand.</summary>
    private sealed class HandSink : IAudioSink
    {
        public long Played { get; set; }

        public int Clears { get; private set; }

        public bool Paused => false;

        public TimeSpan Buffered => TimeSpan.Zero;

        public long PlayedSamples => Played;

        public ValueTask WriteAsync(AudioChunk chunk, CancellationToken cancellationToken)
        {
            chunk.Dispose();
            return ValueTask.CompletedTask;
        }

        public void Clear() => Clears++;

        public void Pause()
        {
        }

        public void Resume()
        {
        }

        public ValueTask<Playout> WaitForPlayoutAsync(CancellationToken cancellationToken) => ValueTask.FromResult(new Playout(Played, false));
    }
}
