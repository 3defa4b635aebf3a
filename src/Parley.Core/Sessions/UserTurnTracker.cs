namespace Parley.Core.Sessions;

/// <summary>
/// The user's turn as the session sees it: its round (fixed at the first speech start, 0 when none), whether the user
/// is speaking, and whether the turn is ignored (it began while a reply that may not be interrupted ran). Guarded by
/// the session lock.
/// </summary>
internal sealed class UserTurnTracker
{
    public long Round { get; private set; }

    public bool Speaking { get; set; }

    public bool Ignored { get; private set; }

    /// <summary>
    /// The speech began while a reply that may be interrupted ran, but the <see cref="Turns.InterruptionPolicy"/>
    /// asks for more speech or words first: the reply goes on until the speech qualifies.
    /// </summary>
    public bool BargeInPending { get; set; }

    /// <summary>The pending speech has lasted the policy's minimum.</summary>
    public bool Sustained { get; set; }

    /// <summary>The pending speech's transcript so far.</summary>
    public string Text { get; set; } = "";

    /// <summary>The pending speech began inside the interruption policy's echo guard.</summary>
    public bool InEchoGuard { get; set; }

    /// <summary>A turn is in progress and is heard (not ignored).</summary>
    public bool Heard => Round != 0 && !Ignored;

    /// <summary>The status when no reply runs: LISTENING during a heard user turn, else IDLE.</summary>
    public AgentStatus RestingStatus => Heard ? AgentStatus.Listening : AgentStatus.Idle;

    /// <summary>Speech started and is heard: the turn's round (a new one for the first start of a turn).</summary>
    public long Begin(Func<long> nextRound)
    {
        if (Round == 0)
        {
            Round = nextRound();
        }

        Speaking = true;
        return Round;
    }

    /// <summary>Speech started while barge-in is not allowed: the rest of the turn is ignored.</summary>
    public void Ignore()
    {
        Ignored = true;
        Speaking = true;
    }

    /// <summary>Ends the turn; returns its round and whether it was ignored.</summary>
    public (long Round, bool Ignored) End()
    {
        var result = (Round, Ignored);
        Round = 0;
        Ignored = false;
        Speaking = false;
        BargeInPending = false;
        Sustained = false;
        Text = "";
        InEchoGuard = false;
        return result;
    }
}
