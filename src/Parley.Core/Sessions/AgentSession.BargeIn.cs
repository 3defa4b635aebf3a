using Parley.Core.Replies;
using Parley.Core.Turns;

namespace Parley.Core.Sessions;

/// <summary>
/// Barge-in: the user's speech while a reply runs, judged by the <see cref="InterruptionPolicy"/>. A provisional start
/// (the VAD heard speech-like audio) pauses the reply's audio at once — nothing is dropped; confirmed speech that lasts
/// long enough and has words that are not a backchannel interrupts (Interrupted, the output cleared); a released start,
/// or speech that ends without qualifying, resumes the audio where it stopped, with no Interrupted event (as LiveKit's
/// <c>resume_false_interruption</c>). Inside the echo guard (just after the onset of a reply's audio) speech does not
/// pause the reply at all and interrupts only once it lasted <see cref="InterruptionPolicy.EchoGuardMinSpeech"/> with
/// its words. Pending speech that has no words by then (noise, babble, the agent's own echo) resumes the audio; after
/// <see cref="WordlessPausesPerReply"/> such wordless false pauses a reply is no longer paused provisionally (only a
/// qualifying interruption stops it), so an echo cannot make the agent stutter.
/// </summary>
public sealed partial class AgentSession
{
    // Guarded by _gate: the reply whose audio a provisional barge-in paused, and when the agent's audio last began.
    private SpeechHandle? _paused;
    private long _agentAudioOnset;
    private SpeechHandle? _wordlessOf;
    private int _wordlessPauses;

    /// <summary>Wordless false pauses after which a reply is no longer paused provisionally.</summary>
    public const int WordlessPausesPerReply = 2;

    /// <summary>The reply whose audio is paused by the user's speech (tests and diagnostics).</summary>
    public bool AgentAudioPaused
    {
        get
        {
            lock (_gate)
            {
                return _paused is not null;
            }
        }
    }

    /// <summary>
    /// The VAD heard speech-like audio, not yet confirmed (the input pipeline's <see cref="Turns.UserSpeechProvisional"/>):
    /// an interruptible reply's audio pauses, unless the echo guard holds.
    /// </summary>
    public void UserSpeechProvisional()
    {
        lock (_gate)
        {
            if (!_disposed && !_user.Ignored && _replies.Current is { IsDone: false } current && BargeInAllowedLocked(current)
                && !(_user.BargeInPending && _user.InEchoGuard) && !InEchoGuardLocked())
            {
                PauseLocked(current);
            }
        }
    }

    /// <summary>A provisional start fell back to quiet (a false start): paused audio resumes unless confirmed speech is pending.</summary>
    public void UserSpeechReleased()
    {
        lock (_gate)
        {
            if (!_disposed && !(_user.BargeInPending && _user.Speaking))
            {
                ResumeLocked();
            }
        }
    }

    /// <summary>
    /// The user started speaking (the input pipeline's speech start). Fixes the round of the user's turn (the first
    /// start of a turn; later starts of a stitched turn keep it), sets LISTENING and interrupts a thinking or speaking
    /// reply with <see cref="InterruptReason.UserSpeech"/> — at once when the policy judges nothing, else once the speech
    /// qualifies (the reply's audio is paused meanwhile) — unless the <see cref="InterruptionPolicy"/> or the reply
    /// forbids barge-in: then the speech and the rest of its turn are ignored (no events, no reply).
    /// Returns the user's round, or null when the speech is ignored.
    /// </summary>
    public long? UserSpeechStarted()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return null;
            }

            if (_user.Ignored)
            {
                _user.Speaking = true;
                return null;
            }

            if (_replies.Current is { IsDone: false } current && !BargeInAllowedLocked(current))
            {
                _user.Ignore();
                return null;
            }

            var wasPending = _user.BargeInPending;
            var round = _user.Begin(NextRoundLocked);
            Emit(new UserSpeakingChangedEvent(round, true));
            if (_replies.Current is { IsDone: false } running && (wasPending || _interruption.Judged))
            {
                // Not an interruption yet: the reply pauses until the speech lasts long enough and has its words.
                _user.BargeInPending = true;
                if (!wasPending)
                {
                    _user.InEchoGuard = InEchoGuardLocked();
                    _user.Sustained = _interruption.RequiredSpeech(_user.InEchoGuard) <= TimeSpan.Zero;
                    _user.Text = "";
                }

                if (!_user.InEchoGuard)
                {
                    PauseLocked(running);
                }

                TryPendingBargeInLocked();
                return round;
            }

            InterruptCurrentLocked(InterruptReason.UserSpeech);
            SetStatusLocked(AgentStatus.Listening, round);
            return round;
        }
    }

    /// <summary>As <see cref="UserSpeechSustained(TimeSpan)"/> with the speech long enough for any minimum.</summary>
    public void UserSpeechSustained() => UserSpeechSustained(TimeSpan.MaxValue);

    /// <summary>
    /// The user's speech has lasted <paramref name="duration"/> (the input pipeline's <see cref="Turns.UserSpeechSustained"/>):
    /// a pending barge-in interrupts now if that covers the policy's minimum (the echo guard's inside it) and it has its words.
    /// </summary>
    public void UserSpeechSustained(TimeSpan duration)
    {
        lock (_gate)
        {
            if (_disposed || !_user.BargeInPending)
            {
                return;
            }

            if (duration >= _interruption.RequiredSpeech(_user.InEchoGuard))
            {
                _user.Sustained = true;
            }

            TryPendingBargeInLocked();
            if (_user.BargeInPending && _user.Text.Length == 0 && duration >= _interruption.RequiredSpeech(inEchoGuard: true))
            {
                ResumeLocked(); // this long and still no words: noise, babble or echo, not someone talking to the agent
            }
        }
    }

    /// <summary>A pending barge-in whose speech now has the policy's duration and words interrupts the reply.</summary>
    private void TryPendingBargeInLocked()
    {
        var text = _user.Text;
        if (!_user.Sustained || !_interruption.WordsQualify(text))
        {
            return;
        }

        _user.BargeInPending = false;
        if (_replies.Current is { IsDone: false } current && BargeInAllowedLocked(current))
        {
            InterruptCurrentLocked(InterruptReason.UserSpeech);
        }

        ResumeLocked();
        SetStatusLocked(AgentStatus.Listening, _user.Round);
    }

    private void PauseLocked(SpeechHandle handle)
    {
        if (_paused is null && _interruption.PauseOnSpeech && !(_wordlessOf == handle && _wordlessPauses >= WordlessPausesPerReply))
        {
            _paused = handle;
            handle.Output?.Pause();
        }
    }

    /// <summary>Resumes the paused reply's audio (if it still runs), counting a false pause without words.</summary>
    private void ResumeLocked()
    {
        if (_paused is not { } handle)
        {
            return;
        }

        _paused = null;
        if (!handle.IsDone)
        {
            handle.Output?.Resume();
            if (_user.Text.Length == 0)
            {
                _wordlessPauses = _wordlessOf == handle ? _wordlessPauses + 1 : 1;
                _wordlessOf = handle;
            }
        }
    }

    /// <summary>The first frame of a reply's audio left the output: the echo guard starts.</summary>
    private void OnAgentAudioOnset(SpeechHandle handle)
    {
        lock (_gate)
        {
            if (!handle.IsDone && _replies.Current == handle)
            {
                _agentAudioOnset = _time.GetTimestamp();
            }
        }
    }

    private bool InEchoGuardLocked() =>
        _interruption.EchoGuard > TimeSpan.Zero && _agentAudioOnset != 0 && _replies.Current is { IsDone: false }
        && _time.GetElapsedTime(_agentAudioOnset) < _interruption.EchoGuard;
}
