using System.Text;

namespace Parley.Core.Text;

/// <summary>A span of text that is not spoken: from <see cref="Begin"/> to the matching <see cref="End"/>, both included.</summary>
public sealed record FilterSpan(string Begin, string End);

/// <summary>
/// Streaming filter for the text that goes to speech synthesis (spec 7.7): removes every <c>FilterText</c> span
/// (even when its marks arrive split across deltas) and drops everything from the first <c>TerminatorText</c> to the
/// end of the reply. Feed deltas with <see cref="Push"/>, then call <see cref="Complete"/> once.
/// Text that may still be the start of a mark is held back until the next delta decides it.
/// </summary>
public sealed class SpeechTextFilter(IReadOnlyList<FilterSpan>? spans, string? terminator)
{
    private readonly IReadOnlyList<FilterSpan> _spans = spans ?? [];
    private readonly string? _terminator = string.IsNullOrEmpty(terminator) ? null : terminator;
    private readonly StringBuilder _pending = new();
    private FilterSpan? _inside;
    private bool _terminated;

    /// <summary>True once the terminator was seen: the rest of the reply is not spoken.</summary>
    public bool Terminated => _terminated;

    /// <summary>Adds a delta; returns the text that is now certain to be spoken (may be empty).</summary>
    public string Push(string delta)
    {
        if (_terminated)
        {
            return "";
        }

        _pending.Append(delta);
        return Drain(final: false);
    }

    /// <summary>Ends the reply: returns what was held back (an unclosed span is dropped, as its content is not for speech).</summary>
    public string Complete()
    {
        if (_terminated)
        {
            return "";
        }

        var rest = Drain(final: true);
        _pending.Clear();
        return rest;
    }

    private string Drain(bool final)
    {
        var text = _pending.ToString();
        var output = new StringBuilder();
        var i = 0;
        while (i < text.Length)
        {
            if (_inside is not null)
            {
                var end = text.IndexOf(_inside.End, i, StringComparison.Ordinal);
                if (end < 0)
                {
                    // Keep a tail that may be the start of the end mark; drop the rest of the span's content.
                    i = final ? text.Length : Math.Max(i, text.Length - (_inside.End.Length - 1));
                    break;
                }

                i = end + _inside.End.Length;
                _inside = null;
                continue;
            }

            if (_terminator is not null && string.CompareOrdinal(text, i, _terminator, 0, _terminator.Length) == 0 && i + _terminator.Length <= text.Length)
            {
                _terminated = true;
                _pending.Clear();
                return output.ToString();
            }

            var opened = false;
            foreach (var span in _spans)
            {
                if (i + span.Begin.Length <= text.Length && string.CompareOrdinal(text, i, span.Begin, 0, span.Begin.Length) == 0)
                {
                    _inside = span;
                    i += span.Begin.Length;
                    opened = true;
                    break;
                }
            }

            if (opened)
            {
                continue;
            }

            if (!final && MayStartMark(text, i))
            {
                break;
            }

            output.Append(text[i]);
            i++;
        }

        _pending.Remove(0, Math.Min(i, _pending.Length));
        return output.ToString();
    }

    /// <summary>True when the text from <paramref name="start"/> to its end is a proper prefix of a mark.</summary>
    private bool MayStartMark(string text, int start)
    {
        var tail = text.Length - start;
        if (_terminator is not null && tail < _terminator.Length && string.CompareOrdinal(text, start, _terminator, 0, tail) == 0)
        {
            return true;
        }

        foreach (var span in _spans)
        {
            if (tail < span.Begin.Length && string.CompareOrdinal(text, start, span.Begin, 0, tail) == 0)
            {
                return true;
            }
        }

        return false;
    }
}
