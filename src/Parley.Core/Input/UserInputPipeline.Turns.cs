using Parley.Abstractions.Speech;
using Parley.Core.Turns;

namespace Parley.Core.Input;

/// <summary>
/// The turn's life: a speech start opens a turn (or adds an utterance to the open one) and begins its recognition; a
/// speech end and each final transcript ask the end-of-turn policy whether the turn is over (an audio-hearing policy
/// may also say so later, through <see cref="Reconsider"/>); a recogniser that lost utterances drops their turns.
/// All of it runs under <c>_gate</c>, except the policy's transcript decision, which may await.
/// </summary>
public sealed partial class UserInputPipeline
{
    async ValueTask IRecognitionListener.OnResultAsync(RecognitionSession session, SpeechRecognitionResult result, CancellationToken cancellationToken)
    {
        UserTurn turn;
        TurnSnapshot snapshot;
        lock (_gate)
        {
            if (session.Failed || !session.Pending.TryPeek(out var utterance))
            {
                return; // a result with no utterance in flight (recogniser quirk): nothing to attach it to
            }

            var text = result.Text.Trim();
            if (!result.IsFinal)
            {
                _transcripts.OnPartial(utterance, text);
                return;
            }

            session.Pending.Dequeue();
            _transcripts.OnFinal(utterance, text);
            turn = utterance.Turn;
            if (_listenOnDemand || turn != _turn || turn.Closed || turn.Dropped || _inUtterance)
            {
                return;
            }

            snapshot = SnapshotLocked(turn);
        }

        EndOfTurn decision;
        try
        {
            decision = await _endOfTurn.OnFinalTranscriptAsync(snapshot, _conversation, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            decision = EndOfTurn.Wait; // a failing policy leaves the turn to the audio-time decisions
        }

        lock (_gate)
        {
            if (decision == EndOfTurn.End && turn == _turn && !turn.Closed && !turn.Dropped && !_inUtterance
                && turn.Utterances.Count == snapshot.Utterances)
            {
                CloseLocked(turn);
            }
        }
    }

    void IRecognitionListener.OnLostLocked(RecognitionSession? session, Utterance[] lost, Exception error, bool firstOfOutage)
    {
        if (session is not null && _utteranceSession == session)
        {
            _utteranceSession = null;
        }

        var now = _time.GetUtcNow();
        if (firstOfOutage)
        {
            Emit(new RecognitionFailed(now, $"Speech recognition failed: {error.Message}"));
        }

        foreach (var utterance in lost)
        {
            var turn = utterance.Turn;
            if (turn.Dropped)
            {
                continue;
            }

            DropLocked(turn, report: !firstOfOutage);
        }
    }

    private RecognitionSession? OnSpeechStartedLocked(long boundary)
    {
        var now = _time.GetUtcNow();
        if (_turn is null)
        {
            _turn = _transcripts.Begin(now);
            _turn.AudioStart = Math.Max(boundary - _preRollSamples, 0);
        }

        _inUtterance = true;
        _utteranceStart = boundary;
        _sustained = false;
        _guardSustained = false;
        Emit(new UserSpeechStarted(now));
        var turn = _turn;
        var session = _recognizer.BeginLocked(_transcripts.Add(turn));
        if (session is null)
        {
            // No recogniser (reopening after a failure): the speech is heard (barge-in) but the turn cannot be recognised.
            DropLocked(turn, report: true);
        }

        _utteranceSession = session;
        return session;
    }

    private void OnSpeechEndedLocked(long boundary)
    {
        _inUtterance = false;
        _utteranceSession = null;
        var now = _time.GetUtcNow();
        Emit(new UserSpeechEnded(now));
        if (_turn is not { } turn)
        {
            return; // dropped while the user spoke
        }

        turn.SpeechEndedAt = now;
        turn.LastSpeechEnd = boundary;
        if (!_listenOnDemand && _endOfTurn.OnSpeechEnded(SnapshotLocked(turn)) == EndOfTurn.End)
        {
            CloseLocked(turn);
        }
    }

    private void CloseLocked(UserTurn turn)
    {
        if (_turn == turn)
        {
            _turn = null;
        }

        _transcripts.Close(turn);
    }

    private void DropLocked(UserTurn turn, bool report)
    {
        turn.Dropped = true;
        if (_turn == turn)
        {
            _turn = null;
        }

        if (report)
        {
            Emit(new UserTurnDropped(_time.GetUtcNow(), turn.MessageId));
        }
    }

    private TurnSnapshot SnapshotLocked(UserTurn turn) => new(
        turn.MessageId,
        TimeSpan.FromTicks(_preRoll.Total * TicksPerSample),
        TimeSpan.FromTicks(turn.LastSpeechEnd * TicksPerSample),
        _vad.Phase,
        turn.Utterances.Count,
        turn.Pending,
        turn.FinalText)
    {
        TurnStart = TimeSpan.FromTicks(turn.AudioStart * TicksPerSample),
    };

    /// <summary>An audio-hearing end-of-turn policy changed its mind off the audio path (a model answered): ask it again now.</summary>
    private void Reconsider()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        lock (_gate)
        {
            if (!_listenOnDemand && !_inUtterance && _turn is { } open && _endOfTurn.OnAudioAdvanced(SnapshotLocked(open)) == EndOfTurn.End)
            {
                CloseLocked(open);
            }
        }
    }
}
