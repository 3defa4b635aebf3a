using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Parley.Abstractions.Speech;
using Parley.Core.Providers;

namespace Parley.Providers.MiniMax;

/// <summary>
/// The <c>MiniMax</c> TTS vendor: MiniMax T2A v2 over its WebSocket API (wss://api.minimaxi.com/ws/v1/t2a_v2 by
/// default), Params as ZEGO documents them (<see cref="MiniMaxParams"/>). Each pushed text is one
/// <c>task_continue</c> on a pooled started task (<see cref="MiniMaxSessionPool"/>). MiniMax synthesises every
/// task_continue on its own (text pieces must be whole sentences; streaming text input is its separate
/// <c>t2a_v2_bidi</c> API), so <see cref="TtsCapabilities.StreamingText"/> is false.
/// </summary>
public sealed class MiniMaxTtsProvider(MiniMaxSessionPool pool) : ITextToSpeech
{
    public const string VendorName = "MiniMax";

    private static readonly TtsCapabilities SentenceCapabilities = new(StreamingText: false, WordTimings: false, NativeSampleRate: MiniMaxParams.DefaultSampleRate);

    public string Name => VendorName;

    public TtsCapabilities Capabilities => SentenceCapabilities;

    public string? Validate(JsonObject? parameters) => MiniMaxParams.Error(parameters);

    public string? ValidateConfiguration(JsonObject? parameters) => MiniMaxParams.ConfigurationError(parameters);

    public ITtsStream Open(TtsRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var parameters = request.ResolveParameters();
        if (Validate(parameters) is { } error)
        {
            throw new ArgumentException(error, nameof(request));
        }

        return new Stream(pool, parameters!, request.Endpoint);
    }

    /// <summary>One synthesis: every pushed text in turn on one rented session, returned to the pool when all ended cleanly.</summary>
    private sealed class Stream(MiniMaxSessionPool pool, JsonObject parameters, Uri? endpoint) : TtsStreamBase
    {
        protected override async Task RunAsync(ChannelReader<string> text, ChannelWriter<TtsAudio> audio, CancellationToken cancellationToken)
        {
            var apiKey = MiniMaxParams.ApiKey(parameters);
            var groupId = MiniMaxParams.GroupId(parameters);
            var taskStart = MiniMaxParams.TaskStart(parameters);
            var rate = MiniMaxParams.SampleRate(parameters);
            MiniMaxSession? session = null;
            var reused = false;
            try
            {
                await foreach (var piece in text.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (string.IsNullOrWhiteSpace(piece))
                    {
                        continue;
                    }

                    for (var attempt = 0; ; attempt++)
                    {
                        if (session is null)
                        {
                            (session, reused) = await pool.RentAsync(apiKey, groupId, taskStart, rate, endpoint, fresh: attempt > 0, cancellationToken).ConfigureAwait(false);
                        }

                        var firstAudio = new StrongBox<bool>();
                        try
                        {
                            await session.SpeakAsync(piece, audio, firstAudio, cancellationToken).ConfigureAwait(false);
                            break;
                        }
                        catch (MiniMaxException ex) when (reused && attempt == 0 && !firstAudio.Value && ex.ErrorCode is "ConnectionBroken" or "ConnectionClosed")
                        {
                            // MiniMax dropped the kept connection while it was idle: nothing of this text was heard, so retry once.
                            MiniMaxSessionPool.LogStaleSession(pool.Logger);
                            session.Dispose();
                            session = null;
                        }
                    }
                }

                if (session is not null)
                {
                    pool.Return(session, reusable: true);
                    session = null;
                }
            }
            catch (MiniMaxException ex)
            {
                MiniMaxSessionPool.LogFailed(pool.Logger, ex.ErrorCode, ex.StatusCode);
                throw;
            }
            finally
            {
                // Failed, cancelled or abandoned mid-text: the connection may still carry this text's audio; never reuse it.
                session?.Dispose();
            }
        }
    }
}
