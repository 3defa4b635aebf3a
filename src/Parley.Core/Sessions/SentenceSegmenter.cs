using System.Text;

namespace Parley.Core.Sessions;

/// <summary>
/// Cuts streamed text into sentences. CJK terminal punctuation and line breaks end a sentence at once; Latin
/// <c>. ! ? ;</c> end it when followed by white space (so "3.5" stays whole), or at <see cref="Flush"/>.
/// </summary>
public sealed class SentenceSegmenter
{
    private readonly StringBuilder _pending = new();
    private bool _afterLatinTerminal;

    /// <summary>Appends a delta and adds the sentences it completed to <paramref name="completed"/>.</summary>
    public void Push(string delta, List<string> completed)
    {
        foreach (var c in delta)
        {
            if (_afterLatinTerminal && char.IsWhiteSpace(c))
            {
                _afterLatinTerminal = false;
                Emit(completed);
                continue;
            }

            _pending.Append(c);
            _afterLatinTerminal = c is '.' or '!' or '?' or ';';
            if (c is '\n' or '。' or '！' or '？' or '；' or '…')
            {
                _afterLatinTerminal = false;
                Emit(completed);
            }
        }
    }

    /// <summary>The remaining text as a last sentence, if any.</summary>
    public void Flush(List<string> completed)
    {
        _afterLatinTerminal = false;
        Emit(completed);
    }

    private void Emit(List<string> completed)
    {
        var text = _pending.ToString().Trim();
        _pending.Clear();
        if (text.Length > 0)
        {
            completed.Add(text);
        }
    }
}
