using System.Threading.Channels;
using Parley.Core.Output;
using Parley.Core.Replies;
using Parley.Core.Turns;

namespace Parley.Core.Sessions;

/// <summary>
/// The conversation state machine of one agent instance. Control calls (submit, interrupt, read or reset the context)
/// take one short lock and never wait behind reply work. Each reply is a <see cref="SpeechHandle"/> with its own token;
/// at most one runs at a time, later ones queue by priority (<see cref="ReplyScheduler"/>). Interrupting a reply
/// cancels it and clears its audio from the output synchronously (the interruption lane); the context keeps what was
/// played (<see cref="ConversationContext"/>). Events are delivered in order on <see cref="Events"/>.
/// </summary>
public sealed partial class AgentSession : IAsyncDisposable, IReplyHost
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly AgentSessionOptions _options;
    private readonly Channel<SessionEvent> _events = Channel.CreateUnbounded<SessionEvent>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });

    private readonly ConversationContext _context;
    private readonly ReplyScheduler _replies = new();
    private readonly UserTurnTracker _user = new();
    private readonly SessionLatencyStats _latency;
    private readonly LlmStage _llmStage;
    private readonly SpeechPlayout _playout;
    private LlmSettings _llm;
    private InterruptionPolicy _interruption;
    private ISpeechOutput _speech;
    private AgentStatus _status = AgentStatus.Idle;
    private long _lastRound;
    private bool _disposed;

    public AgentSession(AgentSessionOptions options, IChatModel model, TimeProvider timeProvider, ISpeechOutput? speechOutput = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(model);
        _options = options;
        _time = timeProvider;
        _llm = options.Llm;
        _interruption = options.Interruption;
        _speech = speechOutput ?? TextOnlySpeechOutput.Instance;
        _context = new ConversationContext(options.InitialMessages, options.MaxContextMessages);
        _latency = new SessionLatencyStats(timeProvider);
        _llmStage = new LlmStage(model, timeProvider, options.LlmStallTimeout, options.MetaInfo);
        _playout = new SpeechPlayout(timeProvider, options.SpeechStallTimeout);
        _lastRound = (timeProvider.GetUtcNow().ToUnixTimeMilliseconds() % 1_000_000_000L) * 1000L;
    }

    public ChannelReader<SessionEvent> Events => _events.Reader;

    public SessionIdentity Identity => _options.Identity;

    public AgentStatus Status
    {
        get
        {
            lock (_gate)
            {
                return _status;
            }
        }
    }

    public LlmSettings Llm
    {
        get
        {
            lock (_gate)
            {
                return _llm;
            }
        }
    }

    /// <summary>Replaces the LLM settings; the reply in flight keeps the settings it started with.</summary>
    public void UpdateLlm(LlmSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        lock (_gate)
        {
            _llm = settings;
        }
    }

    /// <summary>Replaces the interruption policy; applies from the next user speech.</summary>
    public void UpdateInterruption(InterruptionPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        lock (_gate)
        {
            _interruption = policy;
        }
    }

    /// <summary>Routes spoken text to a new output; replies started afterwards use it.</summary>
    public void SetSpeechOutput(ISpeechOutput output)
    {
        ArgumentNullException.ThrowIfNull(output);
        lock (_gate)
        {
            _speech = output;
        }
    }

    /// <summary>Starts (or queues, by priority) an LLM reply; returns its round id at once.</summary>
    /// <exception cref="InvalidOperationException">The request would wait while <see cref="ReplyScheduler.MaxQueued"/> already wait.</exception>
    public long SubmitLlmReply(LlmReplyRequest request) =>
        TrySubmitLlmReply(request, out var round) ? round : throw QueueFull();

    /// <summary>As <see cref="SubmitLlmReply"/>; false (and no round) when the request would wait behind a full queue.</summary>
    public bool TrySubmitLlmReply(LlmReplyRequest request, out long round)
    {
        ArgumentNullException.ThrowIfNull(request);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_replies.WouldOverflow(request.Priority, request.SamePriorityOption))
            {
                round = 0;
                return false;
            }

            var handle = new SpeechHandle(NextRoundLocked(), ReplyKind.Llm, request.Priority, _time.GetTimestamp())
            {
                Llm = request,
                LlmSettings = _llm,
            };
            ScheduleLocked(handle, request.SamePriorityOption, InterruptReason.ProactiveLlm);
            round = handle.Round;
            return true;
        }
    }

    /// <summary>Starts (or queues, by priority) speaking a fixed text; returns its round id at once.</summary>
    /// <exception cref="InvalidOperationException">The request would wait while <see cref="ReplyScheduler.MaxQueued"/> already wait.</exception>
    public long SubmitSpeech(SpeechRequest request) =>
        TrySubmitSpeech(request, out var round) ? round : throw QueueFull();

    /// <summary>As <see cref="SubmitSpeech"/>; false (and no round) when the request would wait behind a full queue.</summary>
    public bool TrySubmitSpeech(SpeechRequest request, out long round)
    {
        ArgumentNullException.ThrowIfNull(request);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_replies.WouldOverflow(request.Priority, request.SamePriorityOption))
            {
                round = 0;
                return false;
            }

            var handle = new SpeechHandle(NextRoundLocked(), ReplyKind.Speech, request.Priority, _time.GetTimestamp()) { Speech = request };
            ScheduleLocked(handle, request.SamePriorityOption, InterruptReason.ProactiveSpeech);
            round = handle.Round;
            return true;
        }
    }

    private static InvalidOperationException QueueFull() =>
        new($"the reply queue is full: at most {ReplyScheduler.MaxQueued} requests wait");

    /// <summary>The user stopped speaking. The status stays LISTENING until the turn completes.</summary>
    public void UserSpeechEnded()
    {
        lock (_gate)
        {
            if (_disposed || !_user.Speaking)
            {
                return;
            }

            _user.Speaking = false;
            if (_user.Heard)
            {
                Emit(new UserSpeakingChangedEvent(_user.Round, false));
            }

            if (_user.BargeInPending)
            {
                ResumeLocked(); // the user stopped without interrupting (a backchannel, a cough): the agent goes on
            }
        }
    }

    /// <summary>The user's transcript so far (full text each time; <paramref name="isFinal"/> on the last one of the turn).</summary>
    public void UpdateUserTranscript(string messageId, string text, bool isFinal)
    {
        ArgumentNullException.ThrowIfNull(messageId);
        ArgumentNullException.ThrowIfNull(text);
        lock (_gate)
        {
            if (!_disposed && _user.Heard)
            {
                Emit(new UserTranscriptEvent(_user.Round, messageId, text, isFinal));
                if (_user.BargeInPending)
                {
                    _user.Text = text;
                    TryPendingBargeInLocked();
                }
            }
        }
    }

    /// <summary>
    /// The user's turn is complete: <paramref name="text"/> joins the context and an LLM reply starts in the turn's
    /// round. The user turn takes precedence over proactive replies: a running one is interrupted when barge-in allows
    /// it, otherwise the user's reply waits at the head of the queue. Returns the round, or null when the turn was
    /// ignored (it began during a reply that may not be interrupted).
    /// </summary>
    public long? SubmitUserTurn(string text, UserTurnTimes? timings = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var pending = _user.BargeInPending;
            var qualifies = _user.Sustained && _interruption.WordsQualify(text);
            var (round, ignored) = _user.End();
            if (ignored)
            {
                return null;
            }

            if (pending && !qualifies && _replies.Current is { IsDone: false } running)
            {
                // Speech during a reply that never became an interruption (a backchannel, a cough): no turn, the reply goes on.
                ResumeLocked();
                SetStatusLocked(running.Playing ? AgentStatus.Speaking : AgentStatus.Thinking, running.Round);
                return null;
            }

            round = round != 0 ? round : NextRoundLocked();
            var handle = new SpeechHandle(round, ReplyKind.Llm, ReplyPriority.Medium, _time.GetTimestamp())
            {
                Llm = new LlmReplyRequest(text, AddQuestionToHistory: true, AddAnswerToHistory: true),
                LlmSettings = _llm,
                UserTimings = timings,
            };
            if (_replies.Current is { } current)
            {
                if (!BargeInAllowedLocked(current))
                {
                    _replies.PushFront(handle);
                    SetStatusLocked(current.Playing ? AgentStatus.Speaking : AgentStatus.Thinking, current.Round);
                    return round;
                }

                InterruptCurrentLocked(InterruptReason.UserSpeech);
            }

            StartLocked(handle);
            return round;
        }
    }

    /// <summary>The user's turn produced no text (exception 1004); the session goes back to idle (or the next queued reply).</summary>
    public void UserUtteranceEmpty() => EndUserTurnWithoutText(reportEmpty: true);

    /// <summary>Drops the user's turn in progress without a reply or event (e.g. the recogniser failed).</summary>
    public void AbandonUserTurn() => EndUserTurnWithoutText(reportEmpty: false);

    /// <summary>
    /// Cancels the reply in flight and everything queued; its audio stops at once. What was played of it stays in the
    /// context (when the reply's answer was to be kept). Returns false when nothing was running.
    /// </summary>
    public bool Interrupt(InterruptReason reason) => InterruptReply(reason) != 0;

    /// <summary>As <see cref="Interrupt"/>; returns the round of the interrupted reply, or 0 when nothing was running.</summary>
    public long InterruptReply(InterruptReason reason)
    {
        lock (_gate)
        {
            _replies.ClearQueue();
            var round = _replies.Current?.Round ?? 0;
            return InterruptCurrentLocked(reason) ? round : 0;
        }
    }

    /// <summary>The context, oldest first.</summary>
    public IReadOnlyList<ContextMessage> GetMessages()
    {
        lock (_gate)
        {
            return _context.Snapshot();
        }
    }

    public void ResetMessages()
    {
        lock (_gate)
        {
            _context.Clear();
        }
    }

    public void AddMessages(IEnumerable<ContextMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        lock (_gate)
        {
            foreach (var message in messages)
            {
                _context.Add(message);
            }
        }
    }

    public SessionLatency GetLatency()
    {
        lock (_gate)
        {
            return _latency.Snapshot();
        }
    }

    /// <summary>Completes when no reply runs or waits (tests, graceful shutdown).</summary>
    public async Task WhenIdleAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task? running;
            lock (_gate)
            {
                running = _replies.Current?.Task;
                if (running is null && _replies.QueuedCount == 0)
                {
                    return;
                }
            }

            if (running is not null)
            {
                await running.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    public async ValueTask DisposeAsync()
    {
        Task? running;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _replies.ClearQueue();
            running = _replies.Current?.Task;
            if (_replies.Current is { } current)
            {
                current.TryEnd(SpeechState.Interrupted);
                current.CancelAndClear();
                _replies.Current = null;
            }

            SetStatusLocked(AgentStatus.Idle, running is null ? 0 : _lastRound);
            _events.Writer.TryComplete();
        }

        if (running is not null)
        {
            await running.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private void EndUserTurnWithoutText(bool reportEmpty)
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            var speaking = _user.Speaking;
            ResumeLocked();
            var (round, ignored) = _user.End();
            if (ignored || round == 0)
            {
                return;
            }

            if (speaking)
            {
                Emit(new UserSpeakingChangedEvent(round, false));
            }

            if (reportEmpty)
            {
                Emit(new UserUtteranceEmptyEvent(round));
            }

            if (_replies.Current is null)
            {
                StartNextOrRestLocked(round);
            }
        }
    }

    /// <summary>The newest round number handed out (a reply's or the user's turn), for replies that report a Round.</summary>
    public long LastRound => Interlocked.Read(ref _lastRound);

    private long NextRoundLocked()
    {
        _lastRound += 1 + Random.Shared.Next(0, 16);
        return _lastRound;
    }

    private void ScheduleLocked(SpeechHandle handle, SamePriorityOption option, InterruptReason reason)
    {
        if (_replies.Admit(handle, option))
        {
            InterruptCurrentLocked(reason);
            StartLocked(handle);
        }
    }

    /// <summary>The interruption lane: decide, cancel and clear the audio now, commit what was played, report.</summary>
    private bool InterruptCurrentLocked(InterruptReason reason)
    {
        if (_replies.Current is not { } handle)
        {
            return false;
        }

        handle.TryEnd(SpeechState.Interrupted);
        handle.CancelAndClear();
        _paused = null; // the clear ended the pause
        var played = _context.CommitUnfinished(handle);
        _replies.Current = null;
        Emit(new InterruptedEvent(handle.Round, reason) { PlayedText = played });
        EndAgentSpeakingLocked(handle);
        SetStatusLocked(_user.RestingStatus, handle.Round);
        return true;
    }

    private bool BargeInAllowedLocked(SpeechHandle handle) =>
        _interruption.BargeIn && (handle.Kind == ReplyKind.Speech ? handle.Speech!.InterruptibleByUser : handle.Llm?.InterruptibleByUser ?? true);

    private void StartNextOrRestLocked(long round)
    {
        // Queued replies wait while a user turn is heard: the user's reply goes first.
        if (!_disposed && !_user.Heard && _replies.TakeNext() is { } next)
        {
            StartLocked(next);
        }
        else
        {
            SetStatusLocked(_user.RestingStatus, round);
        }
    }

    private void EndAgentSpeakingLocked(SpeechHandle handle)
    {
        if (handle.SpeakBegun && !handle.SpeakEnded)
        {
            handle.SpeakEnded = true;
            Emit(new AgentSpeakingChangedEvent(handle.Round, false));
        }
    }

    private void StartLocked(SpeechHandle handle)
    {
        _replies.Current = handle;
        handle.Start(_time.GetUtcNow(), _speech, h => h.Kind == ReplyKind.Llm ? RunLlmAsync(h) : RunSpeechAsync(h));
    }

    private void FinishLocked(SpeechHandle handle)
    {
        handle.DisposeToken();
        if (!handle.LatencyReported)
        {
            handle.LatencyReported = true;
            EndAgentSpeakingLocked(handle);
            Emit(new TurnLatencyEvent(
                handle.Round,
                handle.Outcome,
                handle.UserTimings is not null,
                handle.UserTimings?.SpeechEndedAt,
                handle.UserTimings?.FinalTranscriptAt,
                handle.StartedAt,
                handle.FirstTokenAt,
                handle.FirstProgress?.FirstAudioAt,
                handle.FirstProgress?.FirstFrameOutAt));
        }

        if (_replies.Current != handle)
        {
            return;
        }

        _replies.Current = null;
        StartNextOrRestLocked(handle.Round);
    }

    private void SetStatusLocked(AgentStatus status, long round)
    {
        if (_status == status)
        {
            return;
        }

        _status = status;
        Emit(new StatusChangedEvent(round, status));
    }

    private void UpdateStatusLocked(SpeechHandle handle)
    {
        if (_replies.Current == handle && !handle.IsDone)
        {
            SetStatusLocked(handle.Playing ? AgentStatus.Speaking : handle.Generating ? AgentStatus.Thinking : _status, handle.Round);
        }
    }

    private void Emit(SessionEvent e) => _events.Writer.TryWrite(e);
}
