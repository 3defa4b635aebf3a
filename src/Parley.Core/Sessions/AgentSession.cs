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
        if (unit.Kind == ReplyKind.Llm && unit.Llm!.AddAnswerToHistory && unit.Text.Length > 0)
        {
            AddContextLocked(new ContextMessage(MessageRole.Assistant, unit.Text.ToString()));
        }

        _current = null;
        Emit(new InterruptedEvent(unit.Round, reason));
        SetStatusLocked(AgentStatus.Idle, unit.Round);
        return true;
    }

    private void StartLocked(ReplyUnit unit)
    {
        _current = unit;
        var speech = _speech;
        unit.Task = Task.Run(() => unit.Kind == ReplyKind.Llm ? RunLlmAsync(unit, speech) : RunSpeechAsync(unit, speech));
    }

    private void FinishLocked(ReplyUnit unit)
    {
        unit.Cts.Dispose();
        if (_current != unit)
        {
            return;
        }

        _current = null;
        if (!_disposed && _queue.Count > 0)
        {
            var next = _queue[0];
            _queue.RemoveAt(0);
            StartLocked(next);
        }
        else
        {
            SetStatusLocked(AgentStatus.Idle, unit.Round);
        }
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
                    if (tokens++ == 0)
                    {
                        firstToken = lastToken;
                    }

                    lock (_gate)
                    {
                        if (unit.Finalized)
                        {
                            return;
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
        await foreach (var segment in reader.ReadAllAsync(token).ConfigureAwait(false))
        {
            await SpeakOneAsync(unit, output, segment, token).ConfigureAwait(false);
        }
    }

    private async Task SpeakOneAsync(ReplyUnit unit, ISpeechOutput output, SpeechSegment segment, CancellationToken token)
    {
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

            unit.Speaking = true;
            UpdateUnitStatusLocked(unit);
        }

        try
        {
            await output.SpeakAsync(segment, token).ConfigureAwait(false);
        }
        finally
        {
            lock (_gate)
            {
                unit.Speaking = false;
                UpdateUnitStatusLocked(unit);
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
                    AddContextLocked(new ContextMessage(MessageRole.Assistant, request.Text));
                }

                unit.Text.Append(request.Text);
                Emit(new ReplyTextDeltaEvent(unit.Round, request.Text));
            }

            await SpeakOneAsync(unit, output, new SpeechSegment(unit.Round, request.Text, true), token).ConfigureAwait(false);
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
                if (!unit.Finalized)
                {
                    unit.Finalized = true;
                    Emit(new SessionErrorEvent(unit.Round, SessionErrorSource.Speech, LlmErrorKind.General, $"Speech output failed: {ex.Message}"));
                }
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

        public bool Speaking { get; set; }

        /// <summary>Its outcome (finished, interrupted, failed) was reported; nothing more may be emitted.</summary>
        public bool Finalized { get; set; }
    }
}
