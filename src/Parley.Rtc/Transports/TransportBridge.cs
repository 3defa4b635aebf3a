using Parley.Abstractions.Audio;
using Parley.Media;
using Parley.Rtc.Rooms;

namespace Parley.Rtc.Transports;

/// <summary>Where a <see cref="TransportBridge"/> sends the played stream: the transport's client connection.</summary>
public interface ITransportAudioSender
{
    /// <summary>
    /// Sends one encoded payload (one WebSocket binary message, one media message of a telephony protocol). Returns false
    /// when the transport is closing: the bridge then stops playing. Called from one task at a time, one payload per
    /// 20 ms of audio (less for codecs with longer frames), paced by the room.
    /// </summary>
    ValueTask<bool> SendAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken);
}

/// <summary>What <see cref="TransportBridge.WriteAudio"/> did with a payload.</summary>
public enum TransportAudioResult
{
    /// <summary>Decoded and queued for the room (or empty after decoding, e.g. a codec's comfort-noise frame).</summary>
    Accepted,

    /// <summary>Nothing is published through this bridge: the payload was dropped.</summary>
    NotPublishing,

    /// <summary>The payload is empty, longer than <see cref="TransportBridge.MaxFrameMilliseconds"/> or does not decode.</summary>
    BadFrame,
}

/// <summary>
/// A transport's media in a room, for one client: <b>ingress</b> (the client's payloads → decode → resample to the
/// room's 16 kHz → live publish) and <b>egress</b> (the room's paced 20 ms frames of a played stream → resample to the
/// client's rate → whole codec frames → encode → <see cref="ITransportAudioSender"/>). Codecs come from
/// <c>Parley.Media</c> (<see cref="IAudioCodecFactory"/>), so a transport at any rate and codec (μ-law 8 kHz for
/// telephony, Opus 48 kHz) needs nothing but the public <see cref="IRoomParticipant"/>. One published and one played
/// stream at a time. Not thread-safe: call it from the transport's receive loop; the egress runs on its own task.
/// Allocates nothing per frame: pooled <see cref="AudioChunk"/>s in, buffers sized once out.
/// </summary>
public sealed class TransportBridge : IAsyncDisposable
{
    /// <summary>The longest payload accepted, in milliseconds of audio.</summary>
    public const int MaxFrameMilliseconds = 60;

    private const int RoomRate = 16000;
    private const int RoomFrameSamples = RoomRate / 50;

    private readonly IRoomParticipant _participant;
    private readonly ITransportAudioSender _sender;
    private readonly int _maxPayloadBytes;

    private Ingress? _ingress;
    private Egress? _egress;

    /// <param name="participant">The client's participant; the bridge does not dispose it.</param>
    /// <param name="sender">Sends encoded payloads of the played stream to the client.</param>
    /// <param name="maxPayloadBytes">The largest payload the transport accepts (sizes the decode buffer once).</param>
    public TransportBridge(IRoomParticipant participant, ITransportAudioSender sender, int maxPayloadBytes = 64 * 1024)
    {
        ArgumentNullException.ThrowIfNull(participant);
        ArgumentNullException.ThrowIfNull(sender);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPayloadBytes, 1);
        _participant = participant;
        _sender = sender;
        _maxPayloadBytes = maxPayloadBytes;
    }

    /// <summary>The stream published through <see cref="WriteAudio"/>, or null.</summary>
    public string? PublishedStreamId => _ingress?.Output.StreamId;

    /// <summary>The stream played to the sender, or null.</summary>
    public string? PlayedStreamId => _egress?.Input.StreamId;

    /// <summary>The played stream's frames dropped because the sender fell behind.</summary>
    public long PlayerDroppedFrames => _egress?.Input.DroppedFrames ?? 0;

    /// <summary>
    /// Publishes <paramref name="streamId"/> live: later payloads given to <see cref="WriteAudio"/> are decoded with
    /// <paramref name="decoder"/> (at its <see cref="IAudioDecoder.SampleRate"/>) and paced to the room's players.
    /// Ownership of the decoder moves to the bridge, also when this throws.
    /// </summary>
    /// <exception cref="InvalidOperationException">A stream is already published through this bridge.</exception>
    /// <exception cref="RoomException">The room refuses the stream (invalid id, published by someone else).</exception>
    public async ValueTask PublishAsync(string streamId, IAudioDecoder decoder, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        try
        {
            if (_ingress is not null)
            {
                throw new InvalidOperationException($"already publishing '{_ingress.Output.StreamId}' through this bridge");
            }

            var output = await _participant.PublishLiveAsync(streamId, cancellationToken).ConfigureAwait(false);
            _ingress = new Ingress(output, decoder, _maxPayloadBytes);
        }
        catch
        {
            decoder.Dispose();
            throw;
        }
    }

    /// <summary>
    /// One payload from the client: decodes it, resamples it to 16 kHz into a pooled chunk and queues it on the live
    /// stream (dropping the oldest queued audio when the room is behind). <paramref name="error"/> says what is wrong
    /// with a <see cref="TransportAudioResult.BadFrame"/>; the stream goes on either way.
    /// </summary>
    public TransportAudioResult WriteAudio(ReadOnlySpan<byte> payload, out string? error)
    {
        if (_ingress is not { } ingress)
        {
            error = "nothing is published";
            return TransportAudioResult.NotPublishing;
        }

        error = ingress.Write(payload);
        return error is null ? TransportAudioResult.Accepted : TransportAudioResult.BadFrame;
    }

    /// <summary>Unpublishes the stream (others get StreamRemoved) and disposes the decoder. False when nothing was published.</summary>
    public async ValueTask<bool> StopPublishingAsync()
    {
        if (_ingress is not { } ingress)
        {
            return false;
        }

        _ingress = null;
        ingress.Decoder.Dispose();
        await ingress.Output.DisposeAsync().ConfigureAwait(false);
        return true;
    }

    /// <summary>Plays <paramref name="streamId"/> to the sender in the encoder's own frames, starting now.</summary>
    /// <exception cref="InvalidOperationException">A stream is already played through this bridge.</exception>
    /// <exception cref="RoomException">The room refuses (invalid id).</exception>
    public ValueTask PlayAsync(string streamId, IAudioEncoder encoder, CancellationToken cancellationToken) =>
        PlayAsync(streamId, encoder, frameSamples: 0, startAfter: null, cancellationToken);

    /// <summary>
    /// Plays <paramref name="streamId"/> to the sender: its 20 ms frames are resampled to the encoder's
    /// <see cref="IAudioEncoder.SampleRate"/>, cut into frames of <paramref name="frameSamples"/> samples (0: the
    /// encoder's <see cref="IAudioEncoder.FixedFrameSamples"/>, or each room frame as it comes when that is 0 too),
    /// encoded and sent. Sending starts once <paramref name="startAfter"/> completes (e.g. the transport's "play ok"
    /// reply is on the wire). Ownership of the encoder moves to the bridge, also when this throws.
    /// </summary>
    /// <param name="cancellationToken">Aborts a send in progress when cancelled; <see cref="StopPlayingAsync"/> stops gently.</param>
    /// <exception cref="InvalidOperationException">A stream is already played through this bridge.</exception>
    /// <exception cref="RoomException">The room refuses (invalid id).</exception>
    public async ValueTask PlayAsync(string streamId, IAudioEncoder encoder, int frameSamples, Task? startAfter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentOutOfRangeException.ThrowIfNegative(frameSamples);
        IRoomAudioInput input;
        try
        {
            if (_egress is not null)
            {
                throw new InvalidOperationException($"already playing '{_egress.Input.StreamId}' through this bridge");
            }

            input = await _participant.PlayAsync(streamId, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            encoder.Dispose();
            throw;
        }

        var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var egress = new Egress(input, encoder, cts, frameSamples > 0 ? frameSamples : encoder.FixedFrameSamples);
        _egress = egress;
        var token = cts.Token;
        egress.Loop = Task.Run(() => egress.RunAsync(_sender, startAfter ?? Task.CompletedTask, token), CancellationToken.None);
    }

    /// <summary>
    /// Stops playing: the played stream's queue completes, so the egress ends after the payload it is sending.
    /// <paramref name="abort"/> also cancels that send (a WebSocket send cancelled aborts the socket: only at teardown).
    /// False when nothing was played.
    /// </summary>
    public async ValueTask<bool> StopPlayingAsync(bool abort = false)
    {
        if (_egress is not { } egress)
        {
            return false;
        }

        _egress = null;
        await egress.Input.DisposeAsync().ConfigureAwait(false);
        if (abort)
        {
            egress.Cancellation.Cancel();
        }

        try
        {
            await egress.Loop.ConfigureAwait(false);
        }
        catch (Exception)
        {
        }

        egress.Cancellation.Dispose();
        return true;
    }

    /// <summary>Stops playing (aborting a send in progress) and unpublishes.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopPlayingAsync(abort: true).ConfigureAwait(false);
        await StopPublishingAsync().ConfigureAwait(false);
    }

    /// <summary>Decode → resample → live write, with buffers sized once per published stream.</summary>
    private sealed class Ingress
    {
        private readonly StreamResampler _resampler;
        private readonly short[] _decoded;
        private readonly int _maxFrameSamples;

        public Ingress(IRoomLiveAudioOutput output, IAudioDecoder decoder, int maxPayloadBytes)
        {
            Output = output;
            Decoder = decoder;
            _resampler = new StreamResampler(decoder.SampleRate, RoomRate);
            _maxFrameSamples = decoder.SampleRate * MaxFrameMilliseconds / 1000;
            _decoded = new short[Math.Max(_maxFrameSamples, decoder.MaxSamplesFor(maxPayloadBytes))];
        }

        public IRoomLiveAudioOutput Output { get; }

        public IAudioDecoder Decoder { get; }

        /// <summary>Null when the payload was taken; otherwise what is wrong with it.</summary>
        public string? Write(ReadOnlySpan<byte> payload)
        {
            var capacity = payload.IsEmpty ? 0 : Decoder.MaxSamplesFor(payload.Length);
            if (payload.IsEmpty || capacity > _decoded.Length)
            {
                return payload.IsEmpty ? "empty audio frame" : $"audio frame longer than {MaxFrameMilliseconds} ms";
            }

            if (_resampler.IsPassThrough)
            {
                // Already at the room's rate (PCM16 or Opus at 16 kHz): decode straight into the pooled chunk, no second copy.
                return WriteDirect(payload, capacity);
            }

            if (!Decoder.TryDecode(payload, _decoded, out var samples, out var error))
            {
                return error ?? "audio frame does not decode";
            }

            if (samples > _maxFrameSamples)
            {
                return $"audio frame of {samples} samples is longer than {MaxFrameMilliseconds} ms";
            }

            if (samples == 0)
            {
                return null;
            }

            var buffer = AudioBufferPool.Shared.Rent(_resampler.MaxOutputFor(samples));
            var written = _resampler.Process(_decoded.AsSpan(0, samples), buffer);
            if (written == 0)
            {
                AudioBufferPool.Shared.Return(buffer);
                return null;
            }

            Output.TryWriteLive(new AudioChunk(buffer, written, RoomRate));
            return null;
        }

        /// <param name="capacity">What this payload can decode to (a 20 ms frame: 320 samples).</param>
        private string? WriteDirect(ReadOnlySpan<byte> payload, int capacity)
        {
            // Rent the payload's capacity, not the longest frame allowed: a 20 ms frame's array is 1 KB where the longest
            // is 64 KB, and a pool keeps fewer large arrays (the idle load test once allocated 100 MB/s at 100 silent
            // sessions when every frame rented the longest).
            var buffer = AudioBufferPool.Shared.Rent(capacity);
            string? refusal = null;
            if (!Decoder.TryDecode(payload, buffer.AsSpan(0, capacity), out var samples, out var error))
            {
                refusal = error ?? "audio frame does not decode";
            }
            else if (samples > _maxFrameSamples)
            {
                refusal = $"audio frame of {samples} samples is longer than {MaxFrameMilliseconds} ms";
            }

            if (refusal is not null || samples == 0)
            {
                AudioBufferPool.Shared.Return(buffer);
                return refusal; // null for an empty frame (e.g. comfort noise): accepted
            }

            Output.TryWriteLive(new AudioChunk(buffer, samples, RoomRate));
            return null;
        }
    }

    /// <summary>Player → resample → frames → encode → send, on its own task.</summary>
    private sealed class Egress(IRoomAudioInput input, IAudioEncoder encoder, CancellationTokenSource cancellation, int frameSamples)
    {
        public IRoomAudioInput Input { get; } = input;

        public CancellationTokenSource Cancellation { get; } = cancellation;

        public Task Loop { get; set; } = Task.CompletedTask;

        public async Task RunAsync(ITransportAudioSender sender, Task startAfter, CancellationToken cancellationToken)
        {
            using var _ = encoder;
            var resampler = new StreamResampler(RoomRate, encoder.SampleRate);
            var pcm = new short[resampler.MaxOutputFor(RoomFrameSamples)];
            var bytes = new byte[encoder.MaxBytesFor(Math.Max(pcm.Length, frameSamples))];
            using var frames = frameSamples > 0 ? new FrameAssembler(frameSamples) : null;
            var frame = new short[Math.Max(frameSamples, 1)];
            try
            {
                await startAfter.WaitAsync(cancellationToken).ConfigureAwait(false);
                var reader = Input.Audio;

                // No token on the wait: a cancellable wait allocates per frame; the player's queue completes when playing stops.
                while (await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
                {
                    while (reader.TryRead(out var chunk))
                    {
                        int samples;
                        using (chunk)
                        {
                            if (resampler.MaxOutputFor(chunk.Length) > pcm.Length)
                            {
                                // Frames are 20 ms; a longer chunk (rare) grows the buffers once.
                                pcm = new short[resampler.MaxOutputFor(chunk.Length)];
                                bytes = new byte[Math.Max(bytes.Length, encoder.MaxBytesFor(pcm.Length))];
                            }

                            samples = resampler.Process(chunk.Samples, pcm);
                        }

                        if (samples == 0)
                        {
                            continue;
                        }

                        if (frames is null)
                        {
                            if (!await SendAsync(sender, pcm.AsSpan(0, samples), bytes, cancellationToken).ConfigureAwait(false))
                            {
                                return;
                            }

                            continue;
                        }

                        // Whole codec frames (Opus 20 ms, a telephony packet): the resampler's output varies by a few samples per frame.
                        frames.Write(pcm.AsSpan(0, samples));
                        while (frames.TryReadFrame(frame))
                        {
                            if (!await SendAsync(sender, frame, bytes, cancellationToken).ConfigureAwait(false))
                            {
                                return;
                            }
                        }
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
        }

        private ValueTask<bool> SendAsync(ITransportAudioSender sender, ReadOnlySpan<short> pcm, byte[] bytes, CancellationToken cancellationToken)
        {
            var length = encoder.Encode(pcm, bytes);
            return sender.SendAsync(bytes.AsMemory(0, length), cancellationToken);
        }
    }
}
