using System.Diagnostics;
using Parley.Testing.Rooms;

namespace Parley.LoadTest;

/// <summary>One utterance handed to the microphone: when its first and last frames were sent (Stopwatch ticks).</summary>
internal sealed class Utterance(short[] samples)
{
    public short[] Samples { get; } = samples;

    public TaskCompletionSource<long> Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource<long> Ended { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// A user's microphone: sends one 20 ms PCM16 frame every 20 ms of wall clock for the whole session, silence unless an
/// utterance is queued (a real client's microphone never stops sending, and the VAD needs the silence to end a turn).
/// </summary>
internal sealed class Microphone
{
    private const int FrameSamples = 320;
    private static readonly short[] SilenceFrame = new short[FrameSamples];
    private readonly RoomTestClient _client;
    private readonly Lock _lock = new();
    private Utterance? _pending;

    public Microphone(RoomTestClient client) => _client = client;

    public Utterance Say(short[] samples)
    {
        var utterance = new Utterance(samples);
        lock (_lock)
        {
            if (_pending is not null)
            {
                throw new InvalidOperationException("the microphone is already playing an utterance");
            }

            _pending = utterance;
        }

        return utterance;
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        long frame = 0;
        Utterance? current = null;
        var offset = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            if (current is null)
            {
                lock (_lock)
                {
                    current = _pending;
                    offset = 0;
                }
            }

            ReadOnlyMemory<short> piece = SilenceFrame;
            if (current is not null)
            {
                piece = current.Samples.AsMemory(offset, Math.Min(FrameSamples, current.Samples.Length - offset));
            }

            var beforeSend = Stopwatch.GetTimestamp();
            await _client.SendAudioAsync(piece, cancellationToken);
            if (current is not null)
            {
                if (offset == 0)
                {
                    current.Started.TrySetResult(beforeSend);
                }

                offset += piece.Length;
                if (offset >= current.Samples.Length)
                {
                    current.Ended.TrySetResult(Stopwatch.GetTimestamp());
                    lock (_lock)
                    {
                        _pending = null;
                    }

                    current = null;
                }
            }

            frame++;
            var wait = TimeSpan.FromMilliseconds(frame * 20) - clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken);
            }
        }
    }
}
