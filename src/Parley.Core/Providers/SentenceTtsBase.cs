using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Parley.Abstractions.Audio;
using Parley.Abstractions.Speech;

namespace Parley.Core.Providers;

/// <summary>
/// The base of TTS vendors whose engine takes one text per call (Local, CosyVoice today): a vendor implements
/// <see cref="Validate"/> and <see cref="SynthesizeSentenceAsync(string, JsonObject?, CancellationToken)"/>; the base checks the Params once per stream,
/// skips blank text, and speaks each pushed text in turn, in order, as the reader reads.
/// </summary>
public abstract class SentenceTtsBase : ITextToSpeech
{
    private static readonly TtsCapabilities DefaultCapabilities = new(StreamingText: false, WordTimings: false, NativeSampleRate: 0);

    public abstract string Name { get; }

    /// <summary>Sentence engines take whole texts and report no word timings; override to state the native rate.</summary>
    public virtual TtsCapabilities Capabilities => DefaultCapabilities;

    public abstract string? Validate(JsonObject? parameters);

    /// <summary>By default the rules of <see cref="Validate"/>; vendors relax them (credentials, engines that did not start).</summary>
    public virtual string? ValidateConfiguration(JsonObject? parameters) => Validate(parameters);

    public ITtsStream Open(TtsRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var parameters = request.ResolveParameters();
        ThrowIfInvalid(parameters);
        return new SentenceStream(this, parameters, request.Endpoint);
    }

    /// <summary>
    /// One text as one call, as before the stream contract: checks the Params (throws <see cref="ArgumentException"/>
    /// with the vendor's message), yields nothing for blank text, then streams the vendor's audio.
    /// </summary>
    public IAsyncEnumerable<AudioChunk> SynthesizeAsync(string text, JsonObject? parameters, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(text);
        ThrowIfInvalid(parameters);
        return SynthesizeCheckedAsync(text, parameters, null, cancellationToken);
    }

    /// <summary>
    /// Streams the audio of one non-blank text with Params that passed <see cref="Validate"/>. Chunks are pooled and
    /// owned by the caller; the enumeration is disposed early when the reply is interrupted.
    /// </summary>
    protected abstract IAsyncEnumerable<AudioChunk> SynthesizeSentenceAsync(string text, JsonObject? parameters, CancellationToken cancellationToken);

    /// <summary>
    /// As <see cref="SynthesizeSentenceAsync(string, JsonObject?, CancellationToken)"/> at <paramref name="endpoint"/>
    /// (<c>TTS.Url</c>, null = the configured endpoint). Engines that connect to a vendor override it; by default the
    /// endpoint is not used.
    /// </summary>
    protected virtual IAsyncEnumerable<AudioChunk> SynthesizeSentenceAsync(string text, JsonObject? parameters, Uri? endpoint, CancellationToken cancellationToken) =>
        SynthesizeSentenceAsync(text, parameters, cancellationToken);

    private void ThrowIfInvalid(JsonObject? parameters)
    {
        if (Validate(parameters) is { } error)
        {
            throw new ArgumentException(error, nameof(parameters));
        }
    }

    private async IAsyncEnumerable<AudioChunk> SynthesizeCheckedAsync(string text, JsonObject? parameters, Uri? endpoint, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (string.IsNullOrWhiteSpace(text))
        {
            yield break;
        }

        await foreach (var chunk in SynthesizeSentenceAsync(text, parameters, endpoint, cancellationToken).ConfigureAwait(false))
        {
            yield return chunk;
        }
    }

    /// <summary>Pushed texts queue up; the reader's enumeration synthesises them one after the other (no worker task).</summary>
    private sealed class SentenceStream(SentenceTtsBase engine, JsonObject? parameters, Uri? endpoint) : ITtsStream
    {
        private readonly Channel<string> _text = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
        private readonly CancellationTokenSource _stop = new();
        private int _disposed;

        public ValueTask PushTextAsync(string text, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(text);
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            cancellationToken.ThrowIfCancellationRequested();
            if (!_text.Writer.TryWrite(text))
            {
                throw new InvalidOperationException("The TTS stream was flushed: open a new stream for more text.");
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask FlushAsync(CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            _text.Writer.TryComplete();
            return ValueTask.CompletedTask;
        }

        public async IAsyncEnumerable<TtsAudio> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
            var token = linked.Token;
            var reader = _text.Reader;
            while (await reader.WaitToReadAsync(token).ConfigureAwait(false))
            {
                while (reader.TryRead(out var text))
                {
                    await foreach (var chunk in engine.SynthesizeCheckedAsync(text, parameters, endpoint, token).ConfigureAwait(false))
                    {
                        yield return new TtsAudio(chunk, null);
                    }
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            _text.Writer.TryComplete();
            await _stop.CancelAsync().ConfigureAwait(false); // a read in progress ends with OperationCanceledException
        }
    }
}
