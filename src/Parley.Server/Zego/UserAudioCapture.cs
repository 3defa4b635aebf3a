using Parley.Abstractions.Audio;
using System.Runtime.InteropServices;
using Parley.Abstractions.Speech;

namespace Parley.Server.Zego;

/// <summary>
/// The <c>UserAudioData</c> callback's audio (callbacks/receiving-callback.mdx): a recognition stream that keeps the
/// first <see cref="MaxSamples"/> (1.5 s) of each utterance it is given — the pre-roll and the speech, as the
/// recogniser hears it — and at the utterance's end hands it on when it holds at least <see cref="MinSamples"/> (1 s;
/// ZEGO sends nothing for shorter speech). One pooled buffer per utterance; nothing is allocated per frame.
/// </summary>
internal sealed class UserAudioCapture(ISpeechRecognitionStream inner, Action<string, int> onUtterance) : ISpeechRecognitionStream
{
    public const int SampleRate = 16000;
    public const int MinSamples = SampleRate;
    public const int MaxSamples = SampleRate * 3 / 2;

    private short[]? _buffer;
    private int _count;

    public ValueTask PushAsync(ReadOnlyMemory<short> samples, CancellationToken cancellationToken)
    {
        if (_count < MaxSamples)
        {
            _buffer ??= AudioBufferPool.Shared.Rent(MaxSamples);
            var n = Math.Min(samples.Length, MaxSamples - _count);
            samples.Span[..n].CopyTo(_buffer.AsSpan(_count));
            _count += n;
        }

        return inner.PushAsync(samples, cancellationToken);
    }

    public ValueTask EndUtteranceAsync(CancellationToken cancellationToken)
    {
        if (_buffer is { } buffer)
        {
            if (_count >= MinSamples)
            {
                onUtterance(Convert.ToBase64String(MemoryMarshal.AsBytes(buffer.AsSpan(0, _count))), _count);
            }

            AudioBufferPool.Shared.Return(buffer);
            _buffer = null;
        }

        _count = 0;
        return inner.EndUtteranceAsync(cancellationToken);
    }

    public IAsyncEnumerable<SpeechRecognitionResult> Results(CancellationToken cancellationToken) => inner.Results(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (_buffer is { } buffer)
        {
            AudioBufferPool.Shared.Return(buffer);
            _buffer = null;
        }

        await inner.DisposeAsync().ConfigureAwait(false);
    }
}
