namespace Parley.Core.Turns;

/// <summary>How the transcript so far ends, for <see cref="ClauseAwareEndOfTurn"/>.</summary>
public enum ClauseEnding
{
    /// <summary>Neither: no final punctuation, no unfinished word (or no text yet).</summary>
    Neutral,

    /// <summary>A complete sentence or question (final punctuation, or a Chinese question particle).</summary>
    Complete,

    /// <summary>An unfinished clause: it ends in a conjunction, preposition, article, auxiliary or filler.</summary>
    Unfinished,
}

/// <summary>
/// Ends the turn sooner after a complete sentence and later after an unfinished clause, within the turn bounds: a
/// complete sentence or question ends when the VAD ends the utterance (<c>SilenceSegmentation</c>); an unfinished clause
/// ("I'd like to book a flight to …", "我想订一张到…的") waits until the silence reaches <see cref="UnfinishedWait"/>
/// (<c>PauseInterval</c> when stitching is on); anything else waits <see cref="NeutralWait"/> (the PauseInterval when
/// stitching is on, else the VAD's silence: today's behaviour). Silence is counted from the last confident speech window.
/// The judgement reads the final transcript; while finals are pending, only <see cref="UnfinishedWait"/> ends the turn.
/// </summary>
public sealed class ClauseAwareEndOfTurn : IEndOfTurnPolicy
{
    /// <summary>English words that leave a clause unfinished: conjunctions, prepositions, articles, auxiliaries, fillers.</summary>
    public static readonly IReadOnlySet<string> EnglishUnfinished = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "and", "or", "but", "so", "because", "if", "when", "while", "that", "which", "who", "whose", "where", "although", "though",
        "unless", "until", "whether", "than", "as", "to", "of", "in", "on", "at", "for", "with", "from", "by", "about", "into",
        "onto", "over", "under", "after", "before", "between", "through", "during", "without", "like", "the", "a", "an", "this",
        "these", "those", "my", "your", "our", "their", "his", "her", "its", "some", "any", "is", "are", "was", "were", "am",
        "be", "been", "have", "has", "had", "do", "does", "did", "can", "could", "would", "should", "will", "shall", "may",
        "might", "must", "um", "uh", "er", "erm", "uhm", "hmm", "mean", "also", "very", "really", "just",
    };

    /// <summary>Chinese endings that leave a clause unfinished (particles, conjunctions, prepositions, fillers).</summary>
    public static readonly IReadOnlyList<string> ChineseUnfinished =
    [
        "和", "跟", "与", "或者", "还是", "但是", "可是", "不过", "因为", "所以", "如果", "然后", "而且", "并且", "的", "在", "把", "被", "给",
        "对于", "关于", "从", "到", "向", "往", "是", "就是", "那个", "这个", "嗯", "呃", "额", "我想", "要", "想", "就",
    ];

    private static readonly string[] ChineseComplete = ["吗", "呢", "吧"];

    public ClauseAwareEndOfTurn(TimeSpan neutralWait, TimeSpan unfinishedWait)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(neutralWait, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(unfinishedWait, neutralWait);
        NeutralWait = neutralWait;
        UnfinishedWait = unfinishedWait;
    }

    /// <summary>Silence after which a turn whose transcript ends neither complete nor unfinished ends.</summary>
    public TimeSpan NeutralWait { get; }

    /// <summary>Silence after which a turn that ends in an unfinished clause (or whose final is late) ends.</summary>
    public TimeSpan UnfinishedWait { get; }

    /// <summary>How <paramref name="text"/> ends.</summary>
    public static ClauseEnding Classify(ReadOnlySpan<char> text)
    {
        text = text.TrimEnd();
        if (text.IsEmpty)
        {
            return ClauseEnding.Neutral;
        }

        var last = text[^1];
        if (last is '.' or '?' or '!' or '。' or '？' or '！' or '…' && !text.EndsWith("...", StringComparison.Ordinal))
        {
            return ClauseEnding.Complete;
        }

        text = text.TrimEnd(",，、;；:：-—… \t");
        foreach (var ending in ChineseComplete)
        {
            if (text.EndsWith(ending, StringComparison.Ordinal))
            {
                return ClauseEnding.Complete;
            }
        }

        foreach (var ending in ChineseUnfinished)
        {
            if (text.EndsWith(ending, StringComparison.Ordinal))
            {
                return ClauseEnding.Unfinished;
            }
        }

        var start = text.Length;
        while (start > 0 && (char.IsLetter(text[start - 1]) || text[start - 1] == '\''))
        {
            start--;
        }

        var word = text[start..];
        var lookup = ((HashSet<string>)EnglishUnfinished).GetAlternateLookup<ReadOnlySpan<char>>();
        return !word.IsEmpty && lookup.Contains(word) ? ClauseEnding.Unfinished : ClauseEnding.Neutral;
    }

    /// <summary>The silence the turn needs before it ends, for the transcript so far.</summary>
    public TimeSpan WaitFor(in TurnSnapshot turn) => turn.PendingFinals > 0 ? UnfinishedWait : Classify(turn.Text) switch
    {
        ClauseEnding.Complete => TimeSpan.Zero, // the VAD's silence already ended the utterance
        ClauseEnding.Unfinished => UnfinishedWait,
        _ => NeutralWait,
    };

    public EndOfTurn OnSpeechEnded(in TurnSnapshot turn) => Decide(turn);

    public EndOfTurn OnAudioAdvanced(in TurnSnapshot turn) => turn.Phase == VadPhase.Quiet ? Decide(turn) : EndOfTurn.Wait;

    public ValueTask<EndOfTurn> OnFinalTranscriptAsync(TurnSnapshot turn, IConversationView conversation, CancellationToken cancellationToken) =>
        ValueTask.FromResult(turn.Phase == VadPhase.Quiet || turn.Phase == VadPhase.Starting ? Decide(turn) : EndOfTurn.Wait);

    private EndOfTurn Decide(in TurnSnapshot turn) => turn.Silence >= WaitFor(turn) ? EndOfTurn.End : EndOfTurn.Wait;
}
