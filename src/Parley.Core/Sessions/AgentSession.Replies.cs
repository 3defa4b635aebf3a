using System.Threading.Channels;
using Parley.Core.Output;
using Parley.Core.Replies;

namespace Parley.Core.Sessions;

/// <summary>
/// The reply side of the session: running one <see cref="SpeechHandle"/> through the stages (<see cref="LlmStage"/>,
/// <see cref="SpeechPlayout"/>) and taking the stages' reports (<see cref="IReplyHost"/>), each under the session's lock.
/// </summary>
public sealed partial class AgentSession
{
    private async Task RunLlmAsync(SpeechHandle handle)
    {
        var request = handle.Llm!;
        ChatModelRequest modelRequest;
        lock (_gate)
        {
            if (handle.IsDone)
            {
                FinishLocked(handle);
                return;
            }

            var settings = handle.LlmSettings!;
            var history = _context.Window(_options.WindowSize);
            if (request.AddQuestionToHistory)
            {
                _context.Add(new ContextMessage(MessageRole.User, request.Text));
            }

            modelRequest = new ChatModelRequest(
                settings,
                string.IsNullOrEmpty(request.SystemPrompt) ? settings.SystemPrompt : request.SystemPrompt,
                history,
                request.Text,
                _options.Identity,
                handle.Round,
                _time.GetUtcNow().ToUnixTimeMilliseconds());
            handle.Generating = true;
            UpdateStatusLocked(handle);
        }

        var sentences = Channel.CreateBounded<SpeechSegment>(new BoundedChannelOptions(64)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        var speaker = _playout.SpeakAllAsync(handle, this, sentences.Reader);
        var stats = new LlmStreamStats();
        var token = handle.Token;
        try
        {
            await _llmStage.RunAsync(handle, modelRequest, this, sentences.Writer, stats, token).ConfigureAwait(false);
            lock (_gate)
            {
                handle.Generating = false;
                UpdateStatusLocked(handle);
            }

            sentences.Writer.TryComplete();
            await speaker.ConfigureAwait(false);
            lock (_gate)
            {
                _latency.RecordLlm(stats.RequestStart, stats.FirstToken, stats.LastToken, stats.Tokens);
                if (handle.TryEnd(SpeechState.Finished))
                {
                    var text = handle.Text.ToString();
                    if (request.AddAnswerToHistory && text.Length > 0)
                    {
                        _context.Add(new ContextMessage(MessageRole.Assistant, text));
                    }

                    Emit(new ReplyFinishedEvent(handle.Round, text));
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Interrupted: the interrupter already committed the played part and reported it.
        }
        catch (Exception ex)
        {
            var kind = ex is LlmException llm ? llm.Kind : LlmErrorKind.General;
            lock (_gate)
            {
                _latency.RecordLlm(stats.RequestStart, stats.FirstToken, stats.LastToken, stats.Tokens);
                if (handle.TryEnd(SpeechState.Failed))
                {
                    // Keep what was generated in the context; the audio of a failed reply stops now.
                    handle.CancelAndClear();
                    if (request.AddAnswerToHistory && handle.Text.Length > 0)
                    {
                        _context.Add(new ContextMessage(MessageRole.Assistant, handle.Text.ToString()));
                    }

                    Emit(new SessionErrorEvent(handle.Round, SessionErrorSource.Llm, kind, ex is LlmException ? ex.Message : $"LLM call failed: {ex.Message}"));
                }
            }
        }
        finally
        {
            sentences.Writer.TryComplete();
            await speaker.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            lock (_gate)
            {
                FinishLocked(handle);
            }
        }
    }

    private async Task RunSpeechAsync(SpeechHandle handle)
    {
        var request = handle.Speech!;
        var (text, meta) = VerbatimText(request.Text);
        try
        {
            lock (_gate)
            {
                if (handle.IsDone)
                {
                    return;
                }

                if (request.AddToHistory)
                {
                    handle.HistoryMessage = new ContextMessage(MessageRole.Assistant, text);
                    _context.Add(handle.HistoryMessage);
                }

                handle.Text.Append(text);
                Emit(new ReplyTextDeltaEvent(handle.Round, text));
            }

            var segment = new SpeechSegment(handle.Round, text, true)
            {
                MetaInfo = meta,
                SentMetaInfo = meta is null ? null : _options.MetaInfo!.Sent(meta),
            };
            await _playout.SpeakOnlyAsync(handle, this, segment).ConfigureAwait(false);
            lock (_gate)
            {
                if (handle.TryEnd(SpeechState.Finished))
                {
                    Emit(new ReplyFinishedEvent(handle.Round, text));
                }
            }
        }
        catch (OperationCanceledException) when (handle.Token.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            ((IReplyHost)this).OnSpeechFailed(handle, ex);
        }
        finally
        {
            lock (_gate)
            {
                FinishLocked(handle);
            }
        }
    }

    bool IReplyHost.OnTextDelta(SpeechHandle handle, string delta, bool first)
    {
        lock (_gate)
        {
            if (handle.IsDone)
            {
                return false;
            }

            if (first)
            {
                handle.FirstTokenAt = _time.GetUtcNow();
            }

            handle.Text.Append(delta);
            Emit(new ReplyTextDeltaEvent(handle.Round, delta));
            return true;
        }
    }

    bool IReplyHost.OnSentence(SpeechHandle handle, string sentence)
    {
        lock (_gate)
        {
            if (handle.IsDone)
            {
                return false;
            }

            Emit(new ReplySentenceEvent(handle.Round, sentence));
            return true;
        }
    }

    bool IReplyHost.OnSegmentStarting(SpeechHandle handle, SpeechSegment segment)
    {
        lock (_gate)
        {
            if (handle.IsDone)
            {
                return false;
            }

            if (segment.IsFirstOfReply)
            {
                _latency.RecordTotalCost(_time.GetElapsedTime(handle.AcceptedTimestamp));
                handle.FirstSegmentTimestamp = _time.GetTimestamp();
            }

            if (handle.FirstProgress is null)
            {
                handle.FirstProgress = segment.Progress;
                segment.Progress.FirstAudio += () => OnFirstAudio(handle);
                segment.Progress.FirstFrameOut += () => OnAgentAudioOnset(handle);
            }

            if (segment.SentMetaInfo is { } meta)
            {
                // Sent when the sentence starts playing (the output's first frame out), not when it was written.
                segment.Progress.FirstFrameOut += () => OnMetaInfoPlaying(handle, meta);
            }

            handle.CurrentSegment = segment;
            handle.Playing = true;
            if (!handle.SpeakBegun)
            {
                handle.SpeakBegun = true;
                Emit(new AgentSpeakingChangedEvent(handle.Round, true));
            }

            UpdateStatusLocked(handle);
            return true;
        }
    }

    /// <summary>
    /// SendAgentInstanceTTS text with LLMMetaInfo rules: its metadata (at the start or the end, as ZEGO's guide allows)
    /// is taken out of the text and all of it rides on the one segment the text is spoken as.
    /// </summary>
    private (string Text, System.Text.Json.Nodes.JsonObject? Meta) VerbatimText(string text)
    {
        if (_options.MetaInfo is not { } rules)
        {
            return (text, null);
        }

        var extractor = new Parley.Core.Text.MetaInfoExtractor(rules);
        var marked = extractor.Push(text) + extractor.Complete();
        var meta = extractor.TakeSentenceMeta(marked, out var clean);
        return (clean, meta);
    }

    private void OnMetaInfoPlaying(SpeechHandle handle, System.Text.Json.Nodes.JsonObject meta)
    {
        lock (_gate)
        {
            if (!handle.IsDone)
            {
                Emit(new AgentMetaInfoEvent(handle.Round, meta));
            }
        }
    }

    private void OnFirstAudio(SpeechHandle handle)
    {
        lock (_gate)
        {
            if (handle.FirstSegmentTimestamp != 0)
            {
                _latency.RecordTtsFirstAudio(_time.GetElapsedTime(handle.FirstSegmentTimestamp));
            }
        }
    }

    void IReplyHost.OnSegmentEnded(SpeechHandle handle, SpeechSegment segment, bool played)
    {
        lock (_gate)
        {
            if (played && !handle.IsDone)
            {
                handle.Played.Append(handle.Played.Length > 0 ? " " : string.Empty).Append(segment.Text);
                handle.CurrentSegment = null;
            }

            handle.Playing = false;
            UpdateStatusLocked(handle);
        }
    }

    /// <summary>The speech output failed or stalled: report it once and stop the whole reply (the LLM too).</summary>
    void IReplyHost.OnSpeechFailed(SpeechHandle handle, Exception exception)
    {
        lock (_gate)
        {
            if (!handle.TryEnd(SpeechState.Failed))
            {
                return;
            }

            handle.CancelAndClear();
            _context.CommitUnfinished(handle);
            var message = exception is SpeechStallException ? exception.Message : $"Speech output failed: {exception.Message}";
            var kind = Parley.Abstractions.Speech.SpeechFailures.KindOf(exception) switch
            {
                Parley.Abstractions.Speech.SpeechFailureKind.InvalidParameter => LlmErrorKind.InvalidParameter,
                Parley.Abstractions.Speech.SpeechFailureKind.Authentication => LlmErrorKind.Authentication,
                Parley.Abstractions.Speech.SpeechFailureKind.RateLimited => LlmErrorKind.RateLimited,
                Parley.Abstractions.Speech.SpeechFailureKind.Arrears => LlmErrorKind.Arrears,
                _ => LlmErrorKind.General,
            };
            Emit(new SessionErrorEvent(handle.Round, SessionErrorSource.Speech, kind, message));
        }
    }
}
