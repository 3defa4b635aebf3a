namespace Parley.Core.Input;

/// <summary>
/// Walkie-talkie listening (<see cref="UserInputOptions.ListenOnDemand"/>): a gate before the VAD. Closed, the audio only
/// advances the clock (the ring is written, the VAD is not fed: no speech start, no barge-in, nothing recognised).
/// Opened by <see cref="StartListening"/>, the VAD restarts from quiet at that moment and speech inside the window is
/// heard as usual, except that silence never ends the turn. <see cref="StopListening"/> ends the utterance in progress at
/// once (no silence wait) and closes the turn: it completes when the recogniser's finals are in, or after
/// <see cref="UserInputOptions.StopFinalWait"/> with the latest partial text, so words are not lost to a slow recogniser.
/// Start and stop are requests from any thread; the audio thread carries them out at its next piece.
/// </summary>
public sealed partial class UserInputPipeline
{
    private readonly bool _listenOnDemand;

    // Guarded by _gate: what the control side asked for.
    private bool _listening;
    private bool _stopRequested;
    private ITimer? _finalWait;
    private UserTurn? _finalWaitTurn;

    // Audio thread (also under _gate): whether the VAD is being fed, and where the open window began (samples).
    private bool _vadOpen;
    private long _listenFrom;

    /// <summary>Walkie-talkie mode: the user is heard from now on (from the next audio piece). Idempotent.</summary>
    /// <exception cref="InvalidOperationException">The pipeline was not built with <see cref="UserInputOptions.ListenOnDemand"/>.</exception>
    public void StartListening()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        RequireOnDemand();
        lock (_gate)
        {
            _listening = true;
        }
    }

    /// <summary>
    /// Walkie-talkie mode: the user is no longer heard; what was heard since <see cref="StartListening"/> ends the turn
    /// now (an empty turn gives <see cref="Turns.EmptyUtterance"/>). Idempotent: stopping while not listening does nothing.
    /// </summary>
    /// <exception cref="InvalidOperationException">The pipeline was not built with <see cref="UserInputOptions.ListenOnDemand"/>.</exception>
    public void StopListening()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        RequireOnDemand();
        lock (_gate)
        {
            if (_listening)
            {
                _listening = false;
                _stopRequested = true;
            }
        }
    }

    /// <summary>Whether the user is being heard (walkie-talkie mode; always true otherwise).</summary>
    public bool Listening
    {
        get
        {
            lock (_gate)
            {
                return !_listenOnDemand || _listening;
            }
        }
    }

    private void RequireOnDemand()
    {
        if (!_listenOnDemand)
        {
            throw new InvalidOperationException("StartListening/StopListening need UserInputOptions.ListenOnDemand (walkie-talkie mode).");
        }
    }

    /// <summary>
    /// The gate, for one piece already in the ring: carries out a stop (the piece ends the utterance in progress, returned
    /// in <paramref name="stopped"/> for streaming) and answers whether the VAD hears the piece.
    /// </summary>
    private bool ListeningPiece(int pieceLength, out (RecognitionSession? Session, long From, bool End) stopped)
    {
        stopped = (null, 0, false);
        lock (_gate)
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                return false;
            }

            var total = _preRoll.Total;
            if (_stopRequested)
            {
                _stopRequested = false;
                stopped = StopLocked(total, pieceLength);
                if (stopped.Session is not null)
                {
                    return false; // this piece ends the old window; a new one (if asked for) opens with the next piece
                }
            }

            if (!_listening)
            {
                return false;
            }

            if (!_vadOpen)
            {
                // The window opens with this piece: the VAD starts from quiet here, and no pre-roll reaches back before it.
                _vadOpen = true;
                _listenFrom = total - pieceLength;
                _vad.Reset(_listenFrom);
            }

            return true;
        }
    }

    private (RecognitionSession? Session, long From, bool End) StopLocked(long total, int pieceLength)
    {
        _vadOpen = false;
        (RecognitionSession?, long, bool) result = (null, 0, false);
        if (_inUtterance)
        {
            var session = _utteranceSession;
            var from = Math.Max(total - pieceLength, _pushedUntil);
            OnSpeechEndedLocked(total);
            if (session is not null)
            {
                _pushedUntil = total;
                result = (session, from, true);
            }
        }

        if (_turn is { } turn)
        {
            CloseLocked(turn);
            if (!turn.Dropped && turn.Pending > 0)
            {
                ArmFinalWaitLocked(turn);
            }
        }

        return result;
    }

    private void ArmFinalWaitLocked(UserTurn turn)
    {
        if (_finalWaitTurn is { } earlier)
        {
            _transcripts.CompleteWithPartials(earlier);
        }

        _finalWait?.Dispose();
        _finalWaitTurn = turn;
        _finalWait = _time.CreateTimer(static state => ((UserInputPipeline)state!).OnFinalWaitElapsed(), this, Options.StopFinalWait, Timeout.InfiniteTimeSpan);
    }

    private void OnFinalWaitElapsed()
    {
        lock (_gate)
        {
            if (_finalWaitTurn is { } turn && Volatile.Read(ref _disposed) == 0)
            {
                _transcripts.CompleteWithPartials(turn);
            }

            _finalWaitTurn = null;
        }
    }

    private void DisposeListening()
    {
        lock (_gate)
        {
            _finalWait?.Dispose();
            _finalWait = null;
            _finalWaitTurn = null;
        }
    }
}
