namespace Parley.Server.Api;

/// <summary>The character sets of the contract's identifiers (spec 1.5 and 2.4).</summary>
public enum IdCharset
{
    /// <summary>Any text.</summary>
    Any,

    /// <summary>AgentId: digits, ASCII letters and <c>! # $ % &amp; ( ) + - : ; &lt; = . &gt; ? @ [ ] ^ _ { } | ~ ,</c>.</summary>
    AgentId,

    /// <summary>UserId: digits, letters, <c>-</c>, <c>_</c>.</summary>
    UserId,

    /// <summary>RTC ids (RoomId, stream ids, AgentUserId): digits, letters, <c>_</c>, <c>-</c>, <c>.</c>.</summary>
    Rtc,

    /// <summary>Decimal digits only (AgentInstanceId as Parley issues them).</summary>
    Digits,
}

public static class IdCharsets
{
    private const string AgentIdSpecials = "!#$%&()+-:;<=.>?@[]^_{}|~,";

    public static bool IsValid(string text, IdCharset charset)
    {
        if (charset == IdCharset.Any)
        {
            return true;
        }

        foreach (var c in text)
        {
            var ok = charset switch
            {
                IdCharset.AgentId => char.IsAsciiLetterOrDigit(c) || AgentIdSpecials.Contains(c),
                IdCharset.UserId => char.IsAsciiLetterOrDigit(c) || c is '-' or '_',
                IdCharset.Rtc => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.',
                IdCharset.Digits => char.IsAsciiDigit(c),
                _ => true,
            };
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    public static string Describe(IdCharset charset) => charset switch
    {
        IdCharset.AgentId => "digits, letters and !#$%&()+-:;<=.>?@[]^_{}|~,",
        IdCharset.UserId => "digits, letters, '-' and '_'",
        IdCharset.Rtc => "digits, letters, '_', '-' and '.'",
        IdCharset.Digits => "digits",
        _ => "any characters",
    };
}
