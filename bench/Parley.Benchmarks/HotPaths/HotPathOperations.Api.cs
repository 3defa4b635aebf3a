using System.Text.Encodings.Web;
using System.Text.Json;
using Parley.Server.Api;

namespace Parley.Benchmarks.HotPaths;

internal static partial class HotPathOperations
{
    public const string SignatureVerify = "RequestSignature.Verify";
    public const string EnvelopeSerialize = "ApiEnvelope.Serialize";

    static partial void AddApi(Dictionary<string, Func<IHotPathOperation>> all)
    {
        all[SignatureVerify] = () => new SignatureVerifyOperation();
        all[EnvelopeSerialize] = () => new EnvelopeSerializeOperation();
    }
}

/// <summary>The control API's signature check (spec 1.4) of one request with a valid signature.</summary>
internal sealed class SignatureVerifyOperation : IHotPathOperation
{
    private const uint AppId = 1234567890;
    private const string Nonce = "8a1d6c3f90b2e745";
    private const string Secret = "0123456789abcdef0123456789abcdef";
    private const string Timestamp = "1763891097";
    private readonly string _signature = RequestSignature.Compute(AppId, Nonce, Secret, Timestamp);

    public int Invoke() => RequestSignature.Verify(AppId, Nonce, Secret, Timestamp, _signature) ? 1 : 0;

    public void Dispose()
    {
    }
}

/// <summary>
/// One success reply: a new <see cref="ApiEnvelope"/> with a small Data object serialised as ControlApiEndpoint does
/// (<c>JsonSerializer.SerializeAsync</c> to the response stream, PascalCase, relaxed escaping) into a reused stream.
/// </summary>
internal sealed class EnvelopeSerializeOperation : IHotPathOperation
{
    // The same settings as ControlApiEndpoint.EnvelopeJson (private there).
    private static readonly JsonSerializerOptions EnvelopeJson = new()
    {
        PropertyNamingPolicy = null,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private readonly MemoryStream _body = new(1024);
    private readonly object _data = new AgentInstanceReply("1914201735648137216", 1763891097123);

    public int Invoke()
    {
        _body.Position = 0;
        _body.SetLength(0);
        var envelope = new ApiEnvelope(0, "Succeed", "1763891097-7f3a9c2b4d", _data);
        var pending = JsonSerializer.SerializeAsync(_body, envelope, EnvelopeJson, CancellationToken.None);
        if (!pending.IsCompletedSuccessfully)
        {
            pending.GetAwaiter().GetResult();
        }

        return (int)_body.Length;
    }

    public void Dispose() => _body.Dispose();

    private sealed record AgentInstanceReply(string AgentInstanceId, long CreateTimestamp);
}
