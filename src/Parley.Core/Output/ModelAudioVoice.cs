using System.Text.Json.Nodes;
using System.Threading.Channels;
using Parley.Abstractions.Audio;
using Parley.Abstractions.Speech;
using Parley.Media;

namespace Parley.Core.Output;

/// <summary>
/// The voice of an audio-output LLM (<c>LLM.Params.modalities</c> with "audio", <c>AdvancedConfig.DisableTTS</c>):
/// no synthesis; the reply's stream plays the audio the model streams (<see cref="Parley.Core.Sessions.ISpeechOutput.PushAudioAsync"/>),
/// and the model's transcript, pushed as text, is placed in that audio where it arrived (a word timing at the audio
/// position reached when the transcript piece came), which is what sentence accounting and the played-text cut of an
/// interruption use. Resampled to 16 kHz, paced and interruptible like any voice.
/// </summary>
public sealed class ModelAudioVoice : ITextToSpeech
{
    /// <summary>The Vendor name it is reported under (never selectable by configuration).</summary>
    public const string VendorName = "LLM";

    private static readonly TtsCapabilities StreamingCapabilities = new(StreamingText: true, WordTimings: true, NativeSampleRate: 24000);

    public string Name => VendorName;

    public TtsCapabilities Capabilities => StreamingCapabilities;

    public string? Validate(JsonObject? parameters) => null;

    public string? ValidateConfiguration(JsonObject? parameters) => null;

    public ITtsStream Open(TtsRequest request) => new Stream();

    /// <summary>What <see cref="TtsSpeechOutput"/> feeds the model's audio into.</summary>
    internal interface IAudioInput
    {
        ValueTask PushAudioAsync(ReadOnlyMemory<byte> pcm16, int sampleRate, CancellationToken cancellationToken);
    }

    private sealed class Stream : ITtsStream, IAudioInput
    {
        private readonly Channel<TtsAudio> _out = Channel.CreateUnbounded<TtsAudio>(new UnboundedChannelOptions { SingleReader = true });
        private readonly Lock _gate = new();
        private TimeSpan _position;
        private int _textLength;
        private int _odd = -1;

        public ValueTask PushTextAsync(string text, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(text);
            if (text.Length == 0)
            {
                return ValueTask.CompletedTask;
            }

            lock (_gate)
            {
                _out.Writer.TryWrite(new TtsAudio(default, new WordTiming(text, _textLength, text.Length, _position, _position)));
                _textLength += text.Length;
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask PushAudioAsync(ReadOnlyMemory<byte> pcm16, int sampleRate, CancellationToken cancellationToken)
        {
            if (pcm16.IsEmpty || sampleRate <= 0)
            {
                return ValueTask.CompletedTask;
            }

            lock (_gate)
            {
                var bytes = pcm16.Span;
                var carried = _odd >= 0 ? 1 : 0;
                var samples = (bytes.Length + carried) / 2;
                if (samples == 0)
                {
                    _odd = bytes[0];
                    return ValueTask.CompletedTask;
                }

                var chunk = AudioChunk.Rent(samples, sampleRate);
                var target = chunk.WritableSpan;
                if (carried == 1)
                {
                    // A sample split across two pieces of the model's stream.
                    target[0] = (short)(_odd | (bytes[0] << 8));
                    bytes = bytes[1..];
                }

                var whole = bytes.Length & ~1;
                PcmMath.FromBytes(bytes[..whole], target[carried..]);
                _odd = whole < bytes.Length ? bytes[whole] : -1;
                _position += TimeSpan.FromSeconds(samples / (double)sampleRate);
                if (!_out.Writer.TryWrite(new TtsAudio(chunk.WithLength(samples), null)))
                {
                    chunk.Dispose();
                }
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask FlushAsync(CancellationToken cancellationToken)
        {
            _out.Writer.TryComplete();
            return ValueTask.CompletedTask;
        }

        public IAsyncEnumerable<TtsAudio> ReadAsync(CancellationToken cancellationToken) => _out.Reader.ReadAllAsync(cancellationToken);

        public ValueTask DisposeAsync()
        {
            _out.Writer.TryComplete();
            while (_out.Reader.TryRead(out var piece))
            {
                piece.Audio.Dispose();
            }

            return ValueTask.CompletedTask;
        }
    }
}
