using Parley.Core.Sessions;

namespace Parley.Core.Replies;

/// <summary>
/// What the reply stages (<see cref="Output.LlmStage"/>, <see cref="Output.SpeechPlayout"/>) report back to the session
/// that owns the reply. Each call takes the session's lock briefly and returns false when the reply is already done
/// (interrupted or failed), so a stage stops without emitting anything more.
/// </summary>
internal interface IReplyHost
{
    bool OnTextDelta(SpeechHandle handle, string delta, bool first);

    bool OnSentence(SpeechHandle handle, string sentence);

    bool OnSegmentStarting(SpeechHandle handle, SpeechSegment segment);

    void OnSegmentEnded(SpeechHandle handle, SpeechSegment segment, bool played);

    void OnSpeechFailed(SpeechHandle handle, Exception exception);
}
