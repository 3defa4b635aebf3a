using System.Threading.Channels;
using Parley.Abstractions.Audio;

namespace Parley.Providers.Local;

/// <summary>One synthesis job: its sentences, voice and speed, and the channel its audio flows through.</summary>
internal sealed class LocalTtsRequest
{
    private readonly Channel<AudioChunk> _output = Channel.CreateUnbounded<AudioChunk>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = true, AllowSynchronousContinuations = false });

    private volatile bool _cancelled;

    public LocalTtsRequest(IReadOnlyList<string> sentences, string voice, double speed)
    {
        Sentences = sentences;
        Voice = voice;
        Speed = speed;
    }

    public IReadOnlyList<string> Sentences { get; }

    public string Voice { get; }

    public double Speed { get; }

    /// <summary>Index of the next sentence to synthesise; touched only by the worker thread.</summary>
    public int NextSentence { get; set; }

    /// <summary>Sample rate of the audio the engine produces; set by the worker before synthesis.</summary>
    public int SampleRate { get; set; }

    public bool IsCancelled => _cancelled;

    public ChannelReader<AudioChunk> Reader => _output.Reader;

    /// <summary>Asks the engine to stop at its next audio callback; safe from any thread.</summary>
    public void Cancel() => _cancelled = true;

    /// <summary>Copies native samples into a pooled chunk and hands it to the reader; false when the request is cancelled.</summary>
    public bool TryWrite(ReadOnlySpan<short> samples)
    {
        if (_cancelled)
        {
            return false;
        }

        if (samples.IsEmpty)
        {
            return true;
        }

        var chunk = AudioChunk.CopyOf(samples, SampleRate);
        if (!_output.Writer.TryWrite(chunk))
        {
            chunk.Dispose();
            return false;
        }

        return true;
    }

    public void Complete(Exception? error = null) => _output.Writer.TryComplete(error);

    /// <summary>Closes the channel from the reader side and returns the buffers of unread chunks.</summary>
    public void Abandon()
    {
        Cancel();
        _output.Writer.TryComplete();
        while (_output.Reader.TryRead(out var chunk))
        {
            chunk.Dispose();
        }
    }
}
