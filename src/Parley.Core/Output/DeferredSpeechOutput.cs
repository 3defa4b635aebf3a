using Parley.Core.Sessions;

namespace Parley.Core.Output;

/// <summary>
/// The speech output of an agent whose audio path is not ready yet (the room join is in progress): speech waits for
/// the real output instead of being "spoken" into nothing, and goes on in it once <see cref="Attach"/> is called.
/// </summary>
public sealed class DeferredSpeechOutput : ISpeechOutput
{
    private readonly TaskCompletionSource<ISpeechOutput> _target = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool IsAttached => _target.Task.IsCompletedSuccessfully;

    /// <summary>Routes everything (waiting and later) to <paramref name="output"/>.</summary>
    public void Attach(ISpeechOutput output) => _target.TrySetResult(output);

    /// <summary>There will be no audio path (the join failed): waiting speech ends as text only.</summary>
    public void Abandon() => _target.TrySetResult(TextOnlySpeechOutput.Instance);

    public async ValueTask SpeakAsync(SpeechSegment segment, CancellationToken cancellationToken)
    {
        var output = await _target.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        await output.SpeakAsync(segment, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask FinishAsync(CancellationToken cancellationToken)
    {
        var output = await _target.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        await output.FinishAsync(cancellationToken).ConfigureAwait(false);
    }

    public void Clear()
    {
        if (_target.Task.IsCompletedSuccessfully)
        {
            _target.Task.Result.Clear();
        }
    }

    public void Pause()
    {
        if (_target.Task.IsCompletedSuccessfully)
        {
            _target.Task.Result.Pause();
        }
    }

    public void Resume()
    {
        if (_target.Task.IsCompletedSuccessfully)
        {
            _target.Task.Result.Resume();
        }
    }

    /// <summary>Only once attached: a reply that started before is spoken sentence by sentence.</summary>
    public bool StreamsText => _target.Task.IsCompletedSuccessfully && _target.Task.Result.StreamsText;

    public ValueTask<int> PushTextAsync(long roundId, string text, bool first, CancellationToken cancellationToken) =>
        _target.Task.IsCompletedSuccessfully ? _target.Task.Result.PushTextAsync(roundId, text, first, cancellationToken) : ValueTask.FromResult(0);

    public ValueTask PushAudioAsync(long roundId, ReadOnlyMemory<byte> pcm16, int sampleRate, CancellationToken cancellationToken) =>
        _target.Task.IsCompletedSuccessfully ? _target.Task.Result.PushAudioAsync(roundId, pcm16, sampleRate, cancellationToken) : ValueTask.CompletedTask;

    public void EndText(long roundId)
    {
        if (_target.Task.IsCompletedSuccessfully)
        {
            _target.Task.Result.EndText(roundId);
        }
    }
}
