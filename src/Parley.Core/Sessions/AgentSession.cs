using System.Runtime.CompilerServices;
using System.Diagnostics;
using System.Text;
using System.Threading.Channels;

namespace Parley.Core.Sessions;

/// <summary>Immutable configuration of one <see cref="AgentSession"/>.</summary>
public sealed record AgentSessionOptions
{
    public required SessionIdentity Identity { get; init; }

    public required LlmSettings Llm { get; init; }

    /// <summary>How many of the most recent context messages each LLM call includes (0 = none).</summary>
    public int WindowSize { get; init; } = 20;

    public IReadOnlyList<ContextMessage> InitialMessages { get; init; } = [];

    /// <summary>A reply whose model sends nothing for this long fails with a general LLM error.</summary>
    public TimeSpan LlmStallTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>The context keeps at most this many messages (oldest dropped first).</summary>
    public int MaxContextMessages { get; init; } = 1000;

    /// <summary>
    /// A speech output that neither finishes a segment nor reports progress on it for this long is cut off and the
    /// reply fails with a speech error.
    /// </summary>
    public TimeSpan SpeechStallTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// The instance's <c>AdvancedConfig.InterruptMode</c>: 0 (default) user speech interrupts a reply (barge-in);
    /// 1 the agent finishes its reply and speech heard meanwhile is ignored.
    /// </summary>
    public int InterruptMode { get; init; }
}

/// <summary>A request to answer <see cref="Text"/> as if the user had said it.</summary>
public sealed record LlmReplyRequest(
    string Text,
    string? SystemPrompt = null,
    bool AddQuestionToHistory = false,
    bool AddAnswerToHistory = true,
    ReplyPriority Priority = ReplyPriority.Medium,
    SamePriorityOption SamePriorityOption = SamePriorityOption.ClearAndInterrupt);

/// <summary>A request to speak <see cref="Text"/> verbatim.</summary>
public sealed record SpeechRequest(
    string Text,
    bool AddToHistory = true,
    bool InterruptibleByUser = true,
    ReplyPriority Priority = ReplyPriority.Medium,
    SamePriorityOption SamePriorityOption = SamePriorityOption.ClearAndInterrupt);

/// <summary>
/// The conversation engine of one agent instance. Control calls (submit, interrupt, read or reset the context) take a
/// short lock and never wait behind reply work. Each reply is one cancellable unit with its own token; at most one
/// runs at a time, later ones queue by priority. Events are delivered in order on <see cref="Events"/>.
/// </summary>
public sealed class AgentSession : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly IChatModel _model;
    private readonly TimeProvider _time;
    private readonly Channel<SessionEvent> _events = Channel.CreateUnbounded<SessionEvent>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });

    private readonly List<ContextMessage> _context;
    private readonly List<ReplyUnit> _queue = [];
    private readonly AgentSessionOptions _options;
    private LlmSettings _llm;
    private ISpeechOutput _speech;
    private ReplyUnit? _current;
    private AgentStatus _status = AgentStatus.Idle;
    private long _lastRound;
    private bool _disposed;

    // The user's turn in progress (round fixed at speech start, 0 when none) and whether it is being ignored
    // (it began while a reply that may not be interrupted was running).
    private long _userRound;
    private bool _userSpeaking;
    private bool _userIgnored;

    // Latency sums (averaged on read).
    private long _ttftSumMs;
    private int _ttftCount;
    private double _tpsSum;
    private int _tpsCount;
    private long _totalCostSumMs;
    private int _totalCostCount;

    public AgentSession(AgentSessionOptions options, IChatModel model, TimeProvider timeProvider, ISpeechOutput? speechOutput = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _model = model;
        _time = timeProvider;
        _llm = options.Llm;
        _speech = speechOutput ?? TextOnlySpeechOutput.Instance;
        _context = [.. options.InitialMessages];
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
        lock (_gate)
        {
            _llm = settings;
        }
    }

    /// <summary>Routes spoken text to a new output (e.g. the room's TTS once the agent has joined).</summary>
    public void SetSpeechOutput(ISpeechOutput output)
    {
        lock (_gate)
        {
            _speech = output;
        }
    }

    /// <summary>Starts (or queues, by priority) an LLM reply; returns its round id at once.</summary>
    public long SubmitLlmReply(LlmReplyRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var unit = new ReplyUnit(NextRoundLocked(), ReplyKind.Llm, request.Priority, _time.GetTimestamp())
            {
                Llm = request,
                LlmSettings = _llm,
            };
            ScheduleLocked(unit, request.SamePriorityOption, InterruptReason.ProactiveLlm);
            return unit.Round;
        }
    }

    /// <summary>Starts (or queues, by priority) speaking a fixed text; returns its round id at once.</summary>
    public long SubmitSpeech(SpeechRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var unit = new ReplyUnit(NextRoundLocked(), ReplyKind.Speech, request.Priority, _time.GetTimestamp()) { Speech = request };
            ScheduleLocked(unit, request.SamePriorityOption, InterruptReason.ProactiveSpeech);
            return unit.Round;
        }
    }

    /// <summary>
    /// The user started speaking (the turn detector's speech start). Fixes the round of the user's turn (the first
    /// start of a turn; later starts of a stitched turn keep it), sets LISTENING and interrupts a thinking or speaking
    /// reply with <see cref="InterruptReason.UserSpeech"/> — unless barge-in is off (<see cref="AgentSessionOptions.InterruptMode"/> 1,
    /// or a speech reply that is not interruptible by the user): then the speech and the rest of its turn are ignored
    /// (no events, no reply), as the contract's ASR "resumes after TTS playback ends".
    /// Returns the user's round, or null when the speech is ignored.
    /// </summary>
    public long? UserSpeechStarted()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return null;
            }

            if (_userIgnored)
            {
                _userSpeaking = true;
                return null;
            }

            if (_current is { Finalized: false } unit)
            {
                if (!BargeInAllowedLocked(unit))
                {
                    _userIgnored = true;
                    _userSpeaking = true;
                    return null;
                }
            }

            if (_userRound == 0)
            {
                _userRound = NextRoundLocked();
            }

            _userSpeaking = true;
            InterruptCurrentLocked(InterruptReason.UserSpeech);
            Emit(new UserSpeakingChangedEvent(_userRound, true));
            SetStatusLocked(AgentStatus.Listening, _userRound);
            return _userRound;
        }
    }

    /// <summary>The user stopped speaking (the turn detector's speech end). The status stays LISTENING until the turn completes.</summary>
    public void UserSpeechEnded()
    {
        lock (_gate)
        {
            if (_disposed || !_userSpeaking)
            {
                return;
            }

            _userSpeaking = false;
            if (!_userIgnored && _userRound != 0)
            {
                Emit(new UserSpeakingChangedEvent(_userRound, false));
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
            if (_disposed || _userIgnored || _userRound == 0)
            {
                return;
            }

            Emit(new UserTranscriptEvent(_userRound, messageId, text, isFinal));
        }
    }

    /// <summary>
    /// The user's turn is complete: <paramref name="text"/> joins the context and an LLM reply starts in the turn's
    /// round (fixed at speech start; a new round when no speech start was reported). The user turn takes precedence
    /// over proactive replies: a running one is interrupted (<see cref="InterruptReason.UserSpeech"/>) when barge-in
    /// allows it, otherwise the user's reply waits at the head of the queue; queued proactive replies stay queued and
    /// run after it. Returns the round, or null when the turn was ignored (it began during a non-interruptible reply).
    /// </summary>
    public long? SubmitUserTurn(string text, Turns.UserTurnTimes? timings = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_userIgnored)
            {
                _userIgnored = false;
                _userSpeaking = false;
                _userRound = 0;
                return null;
            }

            var round = _userRound != 0 ? _userRound : NextRoundLocked();
            _userRound = 0;
            _userSpeaking = false;
            var unit = new ReplyUnit(round, ReplyKind.Llm, ReplyPriority.Medium, _time.GetTimestamp())
            {
                Llm = new LlmReplyRequest(text, AddQuestionToHistory: true, AddAnswerToHistory: true),
                LlmSettings = _llm,
                UserTimings = timings,
            };
            if (_current is { } current)
            {
                if (!BargeInAllowedLocked(current))
                {
                    _queue.Insert(0, unit);
                    SetStatusLocked(current.Speaking ? AgentStatus.Speaking : AgentStatus.Thinking, current.Round);
                    return round;
                }

                InterruptCurrentLocked(InterruptReason.UserSpeech);
            }

            StartLocked(unit);
            return round;
        }
    }

    /// <summary>The user's turn produced no text (exception 1004); the session goes back to idle (or the next queued reply).</summary>
    public void UserUtteranceEmpty() => EndUserTurnWithoutText(reportEmpty: true);

    /// <summary>Drops the user's turn in progress without a reply or event (e.g. the recogniser failed).</summary>
    public void AbandonUserTurn() => EndUserTurnWithoutText(reportEmpty: false);

    private void EndUserTurnWithoutText(bool reportEmpty)
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            var round = _userRound;
            var ignored = _userIgnored;
            var speaking = _userSpeaking;
            _userRound = 0;
            _userIgnored = false;
            _userSpeaking = false;
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

            if (_current is null)
            {
                StartNextOrRestLocked(round);
            }
        }
    }

    /// <summary>
    /// Cancels the reply in flight and everything queued. The part of the reply generated so far stays in the
    /// context (when the reply's answer was to be kept). Returns false when nothing was running.
    /// </summary>
    public bool Interrupt(InterruptReason reason)
    {
        lock (_gate)
        {
            foreach (var queued in _queue)
            {
                queued.Cts.Dispose();
            }

            _queue.Clear();
            return InterruptCurrentLocked(reason);
        }
    }

    /// <summary>The context, oldest first.</summary>
    public IReadOnlyList<ContextMessage> GetMessages()
    {
        lock (_gate)
        {
            return [.. _context];
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
        lock (_gate)
        {
            foreach (var message in messages)
            {
                AddContextLocked(message);
            }
        }
    }

    public SessionLatency GetLatency()
    {
        lock (_gate)
        {
            return new SessionLatency(
                _ttftCount == 0 ? 0 : _ttftSumMs / _ttftCount,
                _tpsCount == 0 ? 0 : Math.Round(_tpsSum / _tpsCount, 3),
                0,
                _totalCostCount == 0 ? 0 : _totalCostSumMs / _totalCostCount);
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
            foreach (var queued in _queue)
            {
                queued.Cts.Dispose();
            }

            _queue.Clear();
            running = _current?.Task;
            if (_current is { } unit)
            {
                unit.Finalized = true;
                _ = unit.Cts.CancelAsync();
                _current = null;
            }

            SetStatusLocked(AgentStatus.Idle, running is null ? 0 : _lastRound);
            _events.Writer.TryComplete();
        }

        if (running is not null)
        {
            try
            {
                await running.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private long NextRoundLocked()
    {
        _lastRound += 1 + Random.Shared.Next(0, 16);
        return _lastRound;
    }

    private void ScheduleLocked(ReplyUnit unit, SamePriorityOption option, InterruptReason reason)
    {
        if (_current is null)
        {
            StartLocked(unit);
            return;
        }

        if (unit.Priority > _current.Priority || (unit.Priority == _current.Priority && option == SamePriorityOption.ClearAndInterrupt))
        {
            if (option == SamePriorityOption.ClearAndInterrupt)
            {
                foreach (var queued in _queue)
                {
                    queued.Cts.Dispose();
                }

                _queue.Clear();
            }

            InterruptCurrentLocked(reason);
            StartLocked(unit);
            return;
        }

        // Wait behind the current reply: after queued units of higher or equal priority.
        var index = _queue.FindIndex(q => q.Priority < unit.Priority);
        _queue.Insert(index < 0 ? _queue.Count : index, unit);
    }

    private bool InterruptCurrentLocked(InterruptReason reason)
    {
        if (_current is not { } unit)
        {
            return false;
        }

        _ = unit.Cts.CancelAsync();
        unit.Finalized = true;
        unit.Outcome = ReplyOutcome.Interrupted;
        CommitInterruptedAnswerLocked(unit);
        _current = null;
        Emit(new InterruptedEvent(unit.Round, reason));
        EndAgentSpeakingLocked(unit);
        SetStatusLocked(RestingStatusLocked(), unit.Round);
        return true;
    }

    /// <summary>
    /// What an interrupted reply leaves in the context: once audio started, only what was played (finished segments
    /// and the current one cut at its played fraction, at a word boundary); before that, the generated text.
    /// </summary>
    private void CommitInterruptedAnswerLocked(ReplyUnit unit)
    {
        var keep = unit.Kind == ReplyKind.Llm ? unit.Llm!.AddAnswerToHistory : unit.Speech!.AddToHistory;
        if (!keep)
        {
            return;
        }

        string text;
        if (unit.SpeakBegun)
        {
            var played = new StringBuilder(unit.Played.ToString());
            if (unit.CurrentSegment is { } segment)
            {
                var cut = PlayedPart(segment.Text, segment.Progress.PlayedFraction);
                if (cut.Length > 0)
                {
                    played.Append(played.Length > 0 ? " " : string.Empty).Append(cut);
                }
            }

            text = played.ToString();
        }
        else
        {
            text = unit.Text.ToString();
        }

        if (unit.HistoryMessage is { } added)
        {
            // A speech reply added its whole text when it started: replace it by what was played.
            var index = _context.FindLastIndex(m => ReferenceEquals(m, added));
            if (index >= 0)
            {
                if (text.Length > 0)
                {
                    _context[index] = new ContextMessage(MessageRole.Assistant, text);
                }
                else
                {
                    _context.RemoveAt(index);
                }
            }
        }
        else if (text.Length > 0)
        {
            AddContextLocked(new ContextMessage(MessageRole.Assistant, text));
        }
    }

    /// <summary>The part of <paramref name="text"/> played at <paramref name="fraction"/>, cut back to a word boundary.</summary>
    internal static string PlayedPart(string text, double fraction)
    {
        if (fraction >= 1)
        {
            return text;
        }

        var n = (int)Math.Floor(text.Length * Math.Max(fraction, 0));
        if (n <= 0)
        {
            return string.Empty;
        }

        var hasSpaces = text.AsSpan().IndexOfAny(' ', '\t', '\n') >= 0;
        if (hasSpaces && !char.IsWhiteSpace(text[n]) && !char.IsWhiteSpace(text[n - 1]))
        {
            // Mid-word: keep only the words that were completely played.
            var space = text.AsSpan(0, n).LastIndexOfAny(' ', '\t', '\n');
            n = space < 0 ? 0 : space;
        }

        return text[..n].TrimEnd();
    }

    private bool BargeInAllowedLocked(ReplyUnit unit) =>
        _options.InterruptMode != 1 && !(unit.Kind == ReplyKind.Speech && !unit.Speech!.InterruptibleByUser);

    /// <summary>The status when no reply runs: LISTENING during a user turn that is heard, else IDLE.</summary>
    private AgentStatus RestingStatusLocked() =>
        _userRound != 0 && !_userIgnored ? AgentStatus.Listening : AgentStatus.Idle;

    private void StartNextOrRestLocked(long round)
    {
        // Queued replies wait while a user turn is heard: the user's reply goes first.
        if (!_disposed && _queue.Count > 0 && (_userRound == 0 || _userIgnored))
        {
            var next = _queue[0];
            _queue.RemoveAt(0);
            StartLocked(next);
        }
        else
        {
            SetStatusLocked(RestingStatusLocked(), round);
        }
    }

    private void EndAgentSpeakingLocked(ReplyUnit unit)
    {
        if (unit.SpeakBegun && !unit.SpeakEnded)
        {
            unit.SpeakEnded = true;
            Emit(new AgentSpeakingChangedEvent(unit.Round, false));
        }
    }

    private void StartLocked(ReplyUnit unit)
    {
        _current = unit;
        unit.StartedAt = _time.GetUtcNow();
        var speech = _speech;
        unit.Task = Task.Run(() => unit.Kind == ReplyKind.Llm ? RunLlmAsync(unit, speech) : RunSpeechAsync(unit, speech));
    }

    private void FinishLocked(ReplyUnit unit)
    {
        unit.Cts.Dispose();
        if (!unit.LatencyReported)
        {
            unit.LatencyReported = true;
            EndAgentSpeakingLocked(unit);
            Emit(new TurnLatencyEvent(
                unit.Round,
                unit.Outcome,
                unit.UserTimings is not null,
                unit.UserTimings?.SpeechEndedAt,
                unit.UserTimings?.FinalTranscriptAt,
                unit.StartedAt,
                unit.FirstTokenAt,
                unit.FirstProgress?.FirstAudioAt,
                unit.FirstProgress?.FirstFrameOutAt));
        }

        if (_current != unit)
        {
            return;
        }

        _current = null;
        StartNextOrRestLocked(unit.Round);
    }

    private void AddContextLocked(ContextMessage message)
    {
        _context.Add(message);
        var excess = _context.Count - _options.MaxContextMessages;
        if (excess > 0)
        {
            _context.RemoveRange(0, excess);
        }
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

    private void UpdateUnitStatusLocked(ReplyUnit unit)
    {
        if (_current != unit || unit.Finalized)
        {
            return;
        }

        SetStatusLocked(unit.Speaking ? AgentStatus.Speaking : unit.Thinking ? AgentStatus.Thinking : _status, unit.Round);
    }

    private void Emit(SessionEvent e) => _events.Writer.TryWrite(e);

    private async Task RunLlmAsync(ReplyUnit unit, ISpeechOutput output)
    {
        var request = unit.Llm!;
        var token = unit.Cts.Token;
        ChatModelRequest modelRequest;
        lock (_gate)
        {
            if (unit.Finalized)
            {
                FinishLocked(unit);
                return;
            }

            var settings = unit.LlmSettings!;
            var window = Math.Min(_options.WindowSize, _context.Count);
            var history = _context.GetRange(_context.Count - window, window);
            if (request.AddQuestionToHistory)
            {
                AddContextLocked(new ContextMessage(MessageRole.User, request.Text));
            }

            modelRequest = new ChatModelRequest(
                settings,
                string.IsNullOrEmpty(request.SystemPrompt) ? settings.SystemPrompt : request.SystemPrompt,
                history,
                request.Text,
                _options.Identity,
                unit.Round,
                _time.GetUtcNow().ToUnixTimeMilliseconds());
            unit.Thinking = true;
            UpdateUnitStatusLocked(unit);
        }

        var sentences = Channel.CreateBounded<SpeechSegment>(new BoundedChannelOptions(64)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        var speaker = SpeakAllAsync(unit, output, sentences.Reader);
        var segmenter = new Text.SentenceSegmenter();
        var completed = new List<string>();
        using var stall = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(token, stall.Token);
        long requestStart = _time.GetTimestamp();
        long firstToken = 0;
        long lastToken = 0;
        var tokens = 0;
        var first = true;
        try
        {
            stall.CancelAfter(_options.LlmStallTimeout);
            await using (var e = _model.StreamReplyAsync(modelRequest, linked.Token).GetAsyncEnumerator(linked.Token))
            {
                while (true)
                {
                    bool has;
                    try
                    {
                        has = await e.MoveNextAsync().ConfigureAwait(false);
                    }
                    catch (Exception ex) when (stall.IsCancellationRequested && !token.IsCancellationRequested)
                    {
                        throw new LlmException(LlmErrorKind.General, $"The LLM sent nothing for {_options.LlmStallTimeout.TotalSeconds:0.#} s", ex);
                    }

                    if (!has)
                    {
                        break;
                    }

                    stall.CancelAfter(_options.LlmStallTimeout);
                    var delta = e.Current;
                    if (string.IsNullOrEmpty(delta))
                    {
                        continue;
                    }

                    lastToken = _time.GetTimestamp();
                    var firstDelta = tokens++ == 0;
                    if (firstDelta)
                    {
                        firstToken = lastToken;
                    }

                    lock (_gate)
                    {
                        if (unit.Finalized)
                        {
                            return;
                        }

                        if (firstDelta)
                        {
                            unit.FirstTokenAt = _time.GetUtcNow();
                        }

                        unit.Text.Append(delta);
                        Emit(new ReplyTextDeltaEvent(unit.Round, delta));
                    }

                    completed.Clear();
                    completed.AddRange(segmenter.Push(delta));
                    foreach (var sentence in completed)
                    {
                        await WriteSentenceAsync(unit, sentences.Writer, sentence, first, token).ConfigureAwait(false);
                        first = false;
                    }
                }
            }

            completed.Clear();
            if (segmenter.Complete() is { } last)
            {
                completed.Add(last);
            }

            foreach (var sentence in completed)
            {
                await WriteSentenceAsync(unit, sentences.Writer, sentence, first, token).ConfigureAwait(false);
                first = false;
            }

            lock (_gate)
            {
                unit.Thinking = false;
                UpdateUnitStatusLocked(unit);
            }

            sentences.Writer.TryComplete();
            await speaker.ConfigureAwait(false);
            lock (_gate)
            {
                RecordLlmLatencyLocked(requestStart, firstToken, lastToken, tokens);
                if (!unit.Finalized)
                {
                    unit.Finalized = true;
                    var text = unit.Text.ToString();
                    if (request.AddAnswerToHistory && text.Length > 0)
                    {
                        AddContextLocked(new ContextMessage(MessageRole.Assistant, text));
                    }

                    Emit(new ReplyFinishedEvent(unit.Round, text));
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Interrupted: the interrupter already committed the partial reply and reported it.
        }
        catch (Exception ex)
        {
            var kind = ex is LlmException llm ? llm.Kind : LlmErrorKind.General;
            lock (_gate)
            {
                RecordLlmLatencyLocked(requestStart, firstToken, lastToken, tokens);
                if (!unit.Finalized)
                {
                    unit.Finalized = true;
                    unit.Outcome = ReplyOutcome.Failed;
                    if (request.AddAnswerToHistory && unit.Text.Length > 0)
                    {
                        AddContextLocked(new ContextMessage(MessageRole.Assistant, unit.Text.ToString()));
                    }

                    Emit(new SessionErrorEvent(unit.Round, SessionErrorSource.Llm, kind, ex is LlmException ? ex.Message : $"LLM call failed: {ex.Message}"));
                }
            }
        }
        finally
        {
            sentences.Writer.TryComplete();
            try
            {
                await speaker.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Reported by the speaker itself.
            }

            lock (_gate)
            {
                FinishLocked(unit);
            }
        }
    }

    private async ValueTask WriteSentenceAsync(ReplyUnit unit, ChannelWriter<SpeechSegment> writer, string sentence, bool first, CancellationToken token)
    {
        lock (_gate)
        {
            if (unit.Finalized)
            {
                return;
            }

            Emit(new ReplySentenceEvent(unit.Round, sentence));
        }

        await writer.WriteAsync(new SpeechSegment(unit.Round, sentence, first), token).ConfigureAwait(false);
    }

    private async Task SpeakAllAsync(ReplyUnit unit, ISpeechOutput output, ChannelReader<SpeechSegment> reader)
    {
        var token = unit.Cts.Token;
        try
        {
            await foreach (var segment in reader.ReadAllAsync(token).ConfigureAwait(false))
            {
                await SpeakOneAsync(unit, output, segment, token).ConfigureAwait(false);
            }

            await output.FinishAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Interrupted, or failed and reported elsewhere.
        }
        catch (Exception ex)
        {
            lock (_gate)
            {
                FailSpeechLocked(unit, ex);
            }
        }
    }

    /// <summary>The speech output failed or stalled: report it once and stop the whole reply (the LLM too).</summary>
    private void FailSpeechLocked(ReplyUnit unit, Exception ex)
    {
        if (unit.Finalized)
        {
            return;
        }

        unit.Finalized = true;
        unit.Outcome = ReplyOutcome.Failed;
        CommitInterruptedAnswerLocked(unit);
        Emit(new SessionErrorEvent(unit.Round, SessionErrorSource.Speech, LlmErrorKind.General, ex is SpeechStallException ? ex.Message : $"Speech output failed: {ex.Message}"));
        try
        {
            _ = unit.Cts.CancelAsync();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async Task SpeakOneAsync(ReplyUnit unit, ISpeechOutput output, SpeechSegment segment, CancellationToken token)
    {
        var progress = new SpeechProgress(_time);
        segment = segment with { Progress = progress };
        lock (_gate)
        {
            if (unit.Finalized)
            {
                return;
            }

            if (segment.IsFirstOfReply)
            {
                _totalCostSumMs += (long)_time.GetElapsedTime(unit.AcceptedTimestamp).TotalMilliseconds;
                _totalCostCount++;
            }

            unit.FirstProgress ??= progress;
            unit.CurrentSegment = segment;
            unit.Speaking = true;
            if (!unit.SpeakBegun)
            {
                unit.SpeakBegun = true;
                Emit(new AgentSpeakingChangedEvent(unit.Round, true));
            }

            UpdateUnitStatusLocked(unit);
        }

        var played = false;
        var speakCts = CancellationTokenSource.CreateLinkedTokenSource(token);
        var speakToken = speakCts.Token;
        var watchdog = new SpeechWatchdog(_time, progress, _options.SpeechStallTimeout, speakCts);
        Task speaking;
        try
        {
            speaking = output.SpeakAsync(segment, speakToken).AsTask();
        }
        catch
        {
            watchdog.Dispose();
            speakCts.Dispose();
            throw;
        }

        // The output owns the token until it returns: dispose it only then (never while it still observes it).
        _ = speaking.ContinueWith(static (_, cts) => ((CancellationTokenSource)cts!).Dispose(), speakCts, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        try
        {
            // WaitAsync: an output that ignores cancellation cannot wedge the session.
            await speaking.WaitAsync(speakToken).ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
            played = true;
        }
        catch (OperationCanceledException) when (watchdog.Fired && !token.IsCancellationRequested)
        {
            throw new SpeechStallException($"The speech output made no progress for {_options.SpeechStallTimeout.TotalSeconds:0.#} s");
        }
        finally
        {
            watchdog.Dispose();
            lock (_gate)
            {
                if (played)
                {
                    unit.Played.Append(unit.Played.Length > 0 ? " " : string.Empty).Append(segment.Text);
                    unit.CurrentSegment = null;
                }

                unit.Speaking = false;
                UpdateUnitStatusLocked(unit);
            }
        }
    }

    private sealed class SpeechStallException(string message) : Exception(message);

    /// <summary>Cancels a segment whose output neither finished nor reported progress for the stall timeout.</summary>
    private sealed class SpeechWatchdog : IDisposable
    {
        private readonly TimeProvider _time;
        private readonly SpeechProgress _progress;
        private readonly TimeSpan _timeout;
        private readonly CancellationTokenSource _cts;
        private readonly ITimer _timer;
        private volatile bool _fired;

        public SpeechWatchdog(TimeProvider time, SpeechProgress progress, TimeSpan timeout, CancellationTokenSource cts)
        {
            _time = time;
            _progress = progress;
            _timeout = timeout;
            _cts = cts;
            _timer = time.CreateTimer(static s => ((SpeechWatchdog)s!).Check(), this, timeout, Timeout.InfiniteTimeSpan);
        }

        public bool Fired => _fired;

        public void Dispose() => _timer.Dispose();

        private void Check()
        {
            var idle = _time.GetElapsedTime(_progress.LastActivityTimestamp);
            if (idle < _timeout)
            {
                _timer.Change(_timeout - idle, Timeout.InfiniteTimeSpan);
                return;
            }

            _fired = true;
            try
            {
                _cts.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    private async Task RunSpeechAsync(ReplyUnit unit, ISpeechOutput output)
    {
        var request = unit.Speech!;
        var token = unit.Cts.Token;
        try
        {
            lock (_gate)
            {
                if (unit.Finalized)
                {
                    return;
                }

                if (request.AddToHistory)
                {
                    unit.HistoryMessage = new ContextMessage(MessageRole.Assistant, request.Text);
                    AddContextLocked(unit.HistoryMessage);
                }

                unit.Text.Append(request.Text);
                Emit(new ReplyTextDeltaEvent(unit.Round, request.Text));
            }

            await SpeakOneAsync(unit, output, new SpeechSegment(unit.Round, request.Text, true), token).ConfigureAwait(false);
            await output.FinishAsync(token).ConfigureAwait(false);
            lock (_gate)
            {
                if (!unit.Finalized)
                {
                    unit.Finalized = true;
                    Emit(new ReplyFinishedEvent(unit.Round, request.Text));
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            lock (_gate)
            {
                FailSpeechLocked(unit, ex);
            }
        }
        finally
        {
            lock (_gate)
            {
                FinishLocked(unit);
            }
        }
    }

    private void RecordLlmLatencyLocked(long requestStart, long firstToken, long lastToken, int tokens)
    {
        if (tokens == 0)
        {
            return;
        }

        _ttftSumMs += (long)_time.GetElapsedTime(requestStart, firstToken).TotalMilliseconds;
        _ttftCount++;
        var seconds = _time.GetElapsedTime(firstToken, lastToken).TotalSeconds;
        if (tokens > 1 && seconds > 0)
        {
            _tpsSum += (tokens - 1) / seconds;
            _tpsCount++;
        }
    }

    private enum ReplyKind
    {
        Llm,
        Speech,
    }

    /// <summary>One cancellable reply ("speech handle"). Mutable fields are guarded by the session lock.</summary>
    [DebuggerDisplay("{Kind} round {Round}")]
    private sealed class ReplyUnit(long round, ReplyKind kind, ReplyPriority priority, long acceptedTimestamp)
    {
        public long Round { get; } = round;

        public ReplyKind Kind { get; } = kind;

        public ReplyPriority Priority { get; } = priority;

        public long AcceptedTimestamp { get; } = acceptedTimestamp;

        public CancellationTokenSource Cts { get; } = new();

        public StringBuilder Text { get; } = new();

        public LlmReplyRequest? Llm { get; init; }

        public LlmSettings? LlmSettings { get; init; }

        public SpeechRequest? Speech { get; init; }

        public Task? Task { get; set; }

        public bool Thinking { get; set; }

        public Turns.UserTurnTimes? UserTimings { get; init; }

        public DateTimeOffset StartedAt { get; set; }

        public DateTimeOffset? FirstTokenAt { get; set; }

        /// <summary>Progress of the first segment handed to the output (first audio marks).</summary>
        public SpeechProgress? FirstProgress { get; set; }

        /// <summary>The segment being played (null between segments).</summary>
        public SpeechSegment? CurrentSegment { get; set; }

        /// <summary>Text of the segments played to the end.</summary>
        public StringBuilder Played { get; } = new();

        /// <summary>The context message a speech reply added when it started.</summary>
        public ContextMessage? HistoryMessage { get; set; }

        public bool SpeakBegun { get; set; }

        public bool SpeakEnded { get; set; }

        public bool LatencyReported { get; set; }

        public ReplyOutcome Outcome { get; set; } = ReplyOutcome.Finished;

        public bool Speaking { get; set; }

        /// <summary>Its outcome (finished, interrupted, failed) was reported; nothing more may be emitted.</summary>
        public bool Finalized { get; set; }
    }
}
