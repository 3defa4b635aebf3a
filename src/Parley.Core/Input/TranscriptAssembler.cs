using System.Globalization;
using Parley.Core.Turns;

namespace Parley.Core.Input;

/// <summary>One user turn: one utterance, or several stitched ones. Guarded by the pipeline's lock.</summary>
internal sealed class UserTurn(string messageId, DateTimeOffset speechStartedAt)
{
    public string MessageId { get; } = messageId;

    public DateTimeOffset SpeechStartedAt { get; } = speechStartedAt;

    public DateTimeOffset SpeechEndedAt { get; set; }

    public DateTimeOffset FinalAt { get; set; }

    /// <summary>Audio position (samples) where the turn's audio begins (its first speech start less the pre-roll).</summary>
    public long AudioStart { get; set; }

    /// <summary>Audio position (samples) where the last utterance's speech ended.</summary>
    public long LastSpeechEnd { get; set; }

    /// <summary>Each utterance's text in order: its final once it arrived, else its latest partial.</summary>
    public List<(string Text, bool Final)> Utterances { get; } = [];

    /// <summary>Utterances whose final result has not arrived.</summary>
    public int Pending { get; set; }

    /// <summary>No more utterances join (the end-of-turn policy ended it).</summary>
    public bool Closed { get; set; }

    /// <summary>Dropped (the recogniser failed or was missing): nothing more is reported for it.</summary>
    public bool Dropped { get; set; }

    /// <summary>The joined finals so far.</summary>
    public string FinalText { get; set; } = string.Empty;

    public string LastSent { get; set; } = string.Empty;
}

/// <summary>One utterance of a turn, as streamed to one recognition stream.</summary>
internal sealed class Utterance(UserTurn turn, int index)
{
    public UserTurn Turn { get; } = turn;

    public int Index { get; } = index;
}

/// <summary>
/// Builds each turn's transcript from its utterances' results (in utterance order, whatever order the results come in)
/// and emits the transcript events: the full text so far on each change, then the final text and the completion once
/// the turn is closed and every utterance is final (or an empty utterance when nothing was recognised).
/// Not thread-safe: the pipeline calls it under its lock.
/// </summary>
internal sealed class TranscriptAssembler(TimeProvider time, Action<UserTurnEvent> emit)
{
    private readonly long _idBase = Random.Shared.NextInt64(1_000_000_000L, 2_000_000_000L);
    private long _turns;

    public UserTurn Begin(DateTimeOffset now)
    {
        _turns++;
        return new UserTurn((_idBase + _turns).ToString(CultureInfo.InvariantCulture), now);
    }

    public Utterance Add(UserTurn turn)
    {
        turn.Utterances.Add((string.Empty, false));
        turn.Pending++;
        return new Utterance(turn, turn.Utterances.Count - 1);
    }

    public void OnPartial(Utterance utterance, string text)
    {
        var turn = utterance.Turn;
        if (turn.Dropped || turn.Utterances[utterance.Index].Final)
        {
            return;
        }

        turn.Utterances[utterance.Index] = (text, false);
        EmitPartial(turn);
    }

    public void OnFinal(Utterance utterance, string text)
    {
        var turn = utterance.Turn;
        if (turn.Dropped || turn.Utterances[utterance.Index].Final)
        {
            return;
        }

        turn.Utterances[utterance.Index] = (text, true);
        turn.Pending--;
        turn.FinalAt = time.GetUtcNow();
        turn.FinalText = Join(turn, finalsOnly: true);
        if (turn.Closed && turn.Pending == 0)
        {
            Complete(turn);
        }
        else
        {
            EmitPartial(turn);
        }
    }

    /// <summary>No more utterances join; completes at once when every utterance is final.</summary>
    public void Close(UserTurn turn)
    {
        if (turn.Closed || turn.Dropped)
        {
            return;
        }

        turn.Closed = true;
        if (turn.Pending == 0)
        {
            Complete(turn);
        }
    }

    /// <summary>
    /// A closed turn whose finals are late (walkie-talkie stop): completes now with each missing final's latest partial;
    /// the late finals are then ignored (the turn counts as dropped for them).
    /// </summary>
    public void CompleteWithPartials(UserTurn turn)
    {
        if (!turn.Closed || turn.Dropped || turn.Pending == 0)
        {
            return;
        }

        turn.Pending = 0;
        turn.FinalAt = time.GetUtcNow();
        turn.FinalText = Join(turn, finalsOnly: false);
        Complete(turn);
        turn.Dropped = true;
    }

    private void Complete(UserTurn turn)
    {
        var now = time.GetUtcNow();
        var text = turn.FinalText;
        if (text.Length == 0)
        {
            emit(new EmptyUtterance(now, turn.MessageId));
            return;
        }

        emit(new TranscriptUpdated(now, turn.MessageId, text, IsFinal: true));
        emit(new UserTurnCompleted(now, turn.MessageId, text, new UserTurnTimes(turn.SpeechStartedAt, turn.SpeechEndedAt, turn.FinalAt)));
    }

    private void EmitPartial(UserTurn turn)
    {
        var text = Join(turn, finalsOnly: false);
        if (text.Length == 0 || text == turn.LastSent)
        {
            return;
        }

        turn.LastSent = text;
        emit(new TranscriptUpdated(time.GetUtcNow(), turn.MessageId, text, IsFinal: false));
    }

    private static string Join(UserTurn turn, bool finalsOnly)
    {
        var parts = turn.Utterances;
        if (parts.Count == 1)
        {
            return finalsOnly && !parts[0].Final ? string.Empty : parts[0].Text;
        }

        return string.Join(' ', parts.Where(p => p.Text.Length > 0 && (p.Final || !finalsOnly)).Select(p => p.Text));
    }
}
