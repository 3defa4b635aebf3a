using System.Threading.Channels;
using Parley.Core.Turns;

namespace Parley.Core.Sessions;

/// <summary>Connects a <see cref="Input.UserInputPipeline"/>'s events to an <see cref="AgentSession"/>.</summary>
public static class UserTurnListening
{
    /// <summary>
    /// Applies every turn event to the session until <paramref name="turns"/> completes: speech start/end →
    /// <see cref="AgentSession.UserSpeechStarted"/>/<see cref="AgentSession.UserSpeechEnded"/>, transcripts →
    /// <see cref="AgentSession.UpdateUserTranscript"/>, completion → <see cref="AgentSession.SubmitUserTurn"/>, empty →
    /// <see cref="AgentSession.UserUtteranceEmpty"/>. Recognition failures are returned to <paramref name="onRecognitionFailed"/>
    /// (exception 2101) and the turn in progress is dropped, as it is on <see cref="UserTurnDropped"/>.
    /// </summary>
    public static async Task ListenAsync(
        this AgentSession session,
        ChannelReader<UserTurnEvent> turns,
        Action<RecognitionFailed>? onRecognitionFailed,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(turns);
        await foreach (var e in turns.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            Apply(session, e, onRecognitionFailed);
        }
    }

    /// <summary>Applies one turn event to the session (see <see cref="ListenAsync"/>).</summary>
    public static void Apply(AgentSession session, UserTurnEvent e, Action<RecognitionFailed>? onRecognitionFailed = null)
    {
        switch (e)
        {
            case UserSpeechStarted:
                session.UserSpeechStarted();
                break;
            case UserSpeechEnded:
                session.UserSpeechEnded();
                break;
            case UserSpeechSustained sustained:
                session.UserSpeechSustained(sustained.Duration);
                break;
            case UserSpeechProvisional:
                session.UserSpeechProvisional();
                break;
            case UserSpeechReleased:
                session.UserSpeechReleased();
                break;
            case TranscriptUpdated t:
                session.UpdateUserTranscript(t.MessageId, t.Text, t.IsFinal);
                break;
            case UserTurnCompleted c:
                session.SubmitUserTurn(c.Text, c.Times);
                break;
            case EmptyUtterance:
                session.UserUtteranceEmpty();
                break;
            case UserTurnDropped:
                session.AbandonUserTurn();
                break;
            case RecognitionFailed f:
                session.AbandonUserTurn();
                onRecognitionFailed?.Invoke(f);
                break;
        }
    }
}
