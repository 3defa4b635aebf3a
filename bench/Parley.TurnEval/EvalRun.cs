using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;
using Parley.Abstractions.Audio;
using Parley.Abstractions.Speech;
using Parley.Core.Agents;
using Parley.Core.Input;
using Parley.Core.Output;
using Parley.Core.Sessions;
using Parley.Core.Turns;

namespace Parley.TurnEval;

/// <summary>What the voice loop did in one scenario (times in ms from its start).</summary>
internal sealed record ScenarioOutcome(
    Scenario Scenario,
    IReadOnlyList<double> TurnEnds,
    IReadOnlyList<double> SpeechStarts,
    double? FirstInterruption,
    double? FirstClear,
    double? FirstPause = null,
    double PausedMs = 0)
{
    /// <summary>A turn ended inside the labelled pause (before the second part began).</summary>
    public bool CutOff => Scenario.Expect == Expect.OneTurn && Scenario.Segments.Count > 1
        && TurnEnds.Any(t => t >= Scenario.Segments[0].StartMs && t < Scenario.Segments[1].OnsetMs);

    /// <summary>End-of-turn delay: the first turn end after the last word, minus the end of the last word.</summary>
    public double? EndOfTurnDelay => Scenario.Expect != Expect.OneTurn || CutOff ? null
        : TurnEnds.Where(t => t >= Scenario.Segments[^1].EndMs).Select(t => t - Scenario.Segments[^1].EndMs).Cast<double?>().FirstOrDefault();

    /// <summary>The agent stopped (or paused) its audio for the user: an interruption or a cleared output, the first one.</summary>
    public double? Stopped => new[] { FirstInterruption, FirstClear }.Where(x => x is not null).Min();

    /// <summary>The agent stopped for something that was not a real barge-in: anything in a keep-speaking scenario, or before the barge-in's onset.</summary>
    public bool FalseBargeIn => Scenario.AgentSpeaks && Stopped is { } at
        && (Scenario.Expect == Expect.KeepSpeaking || at < Scenario.Segments[0].OnsetMs - 100);

    /// <summary>The agent's audio paused (and resumed: not stopped) for something that was not a real barge-in.</summary>
    public bool FalsePause => Scenario.AgentSpeaks && !FalseBargeIn && FirstPause is { } at
        && (Scenario.Expect == Expect.KeepSpeaking || at < Scenario.Segments[0].StartMs);

    /// <summary>The first moment the agent's audio paused or stopped.</summary>
    public double? Halted => new[] { Stopped, FirstPause }.Where(x => x is not null).Min();

    /// <summary>The agent was still speaking when the real barge-in began (so the barge-in can be judged).</summary>
    public bool BargeInJudged => Scenario.Expect == Expect.Interrupt && !FalseBargeIn;

    /// <summary>
    /// Onset of a judged barge-in → the agent's audio paused or stopped (null when it was not stopped, i.e. interrupted,
    /// within the limit: a pause that resumed is a missed barge-in).
    /// </summary>
    public double? BargeInLatency => BargeInJudged && Stopped is { } stop && stop - Scenario.Segments[0].OnsetMs <= EvalReport.MissedAfterMs
        && new double?[] { stop, FirstPause is { } p && p >= Scenario.Segments[0].StartMs ? p : null }.Where(x => x is not null).Min() is { } at
        ? Math.Max(0, at - Scenario.Segments[0].OnsetMs)
        : null;

    /// <summary>A turn of the user (agent silent) that never ended while the scenario ran.</summary>
    public bool TurnNeverEnded => Scenario.Expect == Expect.OneTurn && !CutOff && EndOfTurnDelay is null;

    /// <summary>Speech start decision after the first audible speech of the user.</summary>
    public double? SpeechStartLatency
    {
        get
        {
            var speech = Scenario.Segments.FirstOrDefault(s => s.Words.Length > 0);
            return speech is null ? null : SpeechStarts.Where(t => t >= speech.StartMs - 100).Select(t => t - speech.OnsetMs).Cast<double?>().FirstOrDefault();
        }
    }
}

/// <summary>
/// Runs scenarios through the whole voice loop (<see cref="VoiceAgent"/>: input pipeline with the real Silero VAD, end
/// of turn and interruption policies, session, TTS output) on a fake clock in 5 ms steps, the user's track (plus the
/// agent's echo) fed as 20 ms microphone frames. The LLM, the TTS (flite clips) and the recogniser (the labelled words)
/// are scripted, so what is measured is turn-taking alone, and the figures do not depend on the machine's load.
/// A test may listen with a real recogniser instead (<c>recognizer</c>: it then hears the echo too).
/// </summary>
internal sealed class EvalRunner(
    IVoiceActivityDetectorFactory vad,
    Func<InterruptionPolicy>? interruption = null,
    Func<UserInputOptions>? turns = null,
    Func<IReadOnlyList<Parley.Abstractions.Media.IAudioInputProcessor>>? processors = null,
    Func<ISpeechRecognitionStream>? recognizer = null)
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(5);

    public async Task<ScenarioOutcome> RunAsync(Scenario scenario, CancellationToken cancellationToken)
    {
        var time = new FakeTimeProvider(T0);
        var llm = new EvalLlm(time, T0);
        using var sink = new EvalSink(time, T0, TimeSpan.FromMilliseconds(scenario.DurationMs + 1000));
        var mic = new EvalMic();
        var now = TimeSpan.Zero;
        var input = turns?.Invoke() ?? new UserInputOptions { Vad = new VadSegmenterOptions { SilenceDuration = TimeSpan.FromMilliseconds(500) } };
        await using var agent = new VoiceAgent(
            new VoiceAgentOptions
            {
                Session = new AgentSessionOptions
                {
                    Identity = new SessionIdentity("eval", "room", "agent", "user"),
                    Llm = new LlmSettings("http://llm.invalid", "k", "m", null, 0.7, 0.9, null, false),
                    Interruption = interruption?.Invoke() ?? InterruptionPolicy.Default,
                },
            },
            llm,
            time);
        var tts = new FliteClipTts(time);
        agent.UpdateVoice(new TtsVoice(tts, null, [], null));
        agent.UpdateListening(() => new ListeningSetup(input, vad.Create, () => recognizer?.Invoke() ?? new OracleRecognizer(() => scenario.WordsAt(now.TotalMilliseconds)), processors));
        var events = new List<(double At, SessionEvent Event)>();
        var pump = Task.Run(
            async () =>
            {
                await foreach (var e in agent.Session.Events.ReadAllAsync(CancellationToken.None))
                {
                    lock (events)
                    {
                        events.Add((now.TotalMilliseconds, e));
                    }
                }
            },
            CancellationToken.None);
        agent.AttachMedia(new VoiceMedia(mic, sink));

        var track = scenario.UserTrack();
        var echo = new short[320];
        var micSent = TimeSpan.Zero;
        var agentAsked = !scenario.AgentSpeaks;
        var end = TimeSpan.FromMilliseconds(scenario.DurationMs);
        while (now < end)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!agentAsked && now >= TimeSpan.FromMilliseconds(Scenario.AgentStartMs))
            {
                agent.Session.TrySubmitSpeech(new SpeechRequest(Scenario.AgentText), out _);
                agentAsked = true;
            }

            while (micSent <= now)
            {
                var from = (int)(micSent.TotalSeconds * Clips.Rate);
                var frame = AudioChunk.Rent(320, Clips.Rate);
                var span = frame.WritableSpan[..320];
                span.Clear();
                if (from < track.Length)
                {
                    track.AsSpan(from, Math.Min(320, track.Length - from)).CopyTo(span);
                }

                if (scenario.Echo)
                {
                    sink.ReadPlayed(from - (Scenario.EchoDelayMs * Clips.Rate / 1000), echo);
                    for (var i = 0; i < 320; i++)
                    {
                        span[i] = (short)Math.Clamp(span[i] + (echo[i] * Scenario.EchoGain), short.MinValue, short.MaxValue);
                    }
                }

                mic.Write(frame.WithLength(320));
                micSent += TimeSpan.FromMilliseconds(20);
            }

            // The real VAD takes real time: wait until the pipeline has processed every frame written so far (scored,
            // or skipped by the silence gate) and asks for the next one.
            await mic.WaitProcessedAsync(cancellationToken).ConfigureAwait(false);
            await SettleAsync(agent.Session.Events, tts).ConfigureAwait(false);
            time.Advance(Step);
            now += Step;
            await SettleAsync(agent.Session.Events, tts).ConfigureAwait(false);
        }

        mic.Complete();
        await agent.DisposeAsync().ConfigureAwait(false);
        await pump.ConfigureAwait(false);
        List<(double At, SessionEvent Event)> seen;
        lock (events)
        {
            seen = [.. events];
        }

        if (Environment.GetEnvironmentVariable("TURNEVAL_TRACE") is "1")
        {
            foreach (var (at, e) in seen)
            {
                Console.WriteLine($"    {at,6:0} {e}");
            }

            Console.WriteLine($"    pauses {string.Join(",", sink.Pauses.Select(p => p.TotalMilliseconds))} resumes {string.Join(",", sink.Resumes.Select(p => p.TotalMilliseconds))} clears {string.Join(",", sink.Clears.Select(p => p.TotalMilliseconds))}");
        }

        // Only what happened while the scenario ran (disposing the agent clears its output too).
        var last = end.TotalMilliseconds;
        return new ScenarioOutcome(
            scenario,
            [.. llm.Requests.Select(r => r.TotalMilliseconds)],
            [.. seen.Where(e => e.Event is UserSpeakingChangedEvent { Speaking: true }).Select(e => e.At)],
            seen.Where(e => e.Event is InterruptedEvent { Reason: InterruptReason.UserSpeech } && e.At < last).Select(e => (double?)e.At).FirstOrDefault(),
            sink.Clears.Where(c => c.TotalMilliseconds < last).Select(c => (double?)c.TotalMilliseconds).FirstOrDefault(),
            sink.Pauses.Where(c => c.TotalMilliseconds < last).Select(c => (double?)c.TotalMilliseconds).FirstOrDefault(),
            PausedTime(sink, last));
    }

    /// <summary>How long the agent's audio stood paused in all (a pause ends at its resume, a clear, or the scenario's end).</summary>
    private static double PausedTime(EvalSink sink, double last)
    {
        var total = 0.0;
        var ends = sink.Resumes.Select(r => r.TotalMilliseconds).Concat(sink.Clears.Select(c => c.TotalMilliseconds)).Order().ToList();
        foreach (var pause in sink.Pauses.Select(p => p.TotalMilliseconds).Where(p => p < last))
        {
            var end = ends.FirstOrDefault(e => e >= pause, last);
            total += Math.Min(end, last) - pause;
        }

        return total;
    }

    /// <summary>
    /// Lets the work of the last step finish (every task of the loop waits on the fake clock or a channel), and the
    /// event pump read every event, so each is stamped with the step it happened in.
    /// </summary>
    private static async Task SettleAsync(ChannelReader<SessionEvent> events, FliteClipTts tts)
    {
        var synthesis = Stopwatch.StartNew();
        while (true)
        {
            var quiet = 0;
            for (var i = 0; i < 4000 && quiet < 4; i++)
            {
                await Task.Yield();
                Thread.Yield();
                quiet = ThreadPool.PendingWorkItemCount == 0 && (!events.CanCount || events.Count == 0) ? quiet + 1 : 0;
            }

            // flite runs on a pool thread that is busy, not queued: wait for it apart (at most 30 s of real time),
            // then for what its audio set going.
            if (!tts.Synthesizing || synthesis.Elapsed > TimeSpan.FromSeconds(30))
            {
                return;
            }

            await Task.Delay(1).ConfigureAwait(false);
        }
    }
}

/// <summary>
/// The microphone as the pipeline reads it: a channel that knows when every frame written was taken and the reader came
/// back for the next one. The input pipeline reads frames one by one and asks for the next only once the previous is
/// processed (its VAD window scored or skipped by the silence gate, the decision made), so this is when the fake clock
/// may move on: it never runs ahead of the pipeline's decision, whatever the VAD (batched, gated) does.
/// </summary>
internal sealed class EvalMic : ChannelReader<AudioChunk>
{
    private readonly Channel<AudioChunk> _channel = Channel.CreateUnbounded<AudioChunk>();
    private long _written;
    private long _taken;
    private long _askedAfter = -1;

    public void Write(AudioChunk frame)
    {
        Interlocked.Increment(ref _written);
        _channel.Writer.TryWrite(frame);
    }

    public void Complete() => _channel.Writer.TryComplete();

    public override bool TryRead(out AudioChunk item)
    {
        if (_channel.Reader.TryRead(out item!))
        {
            Interlocked.Increment(ref _taken);
            return true;
        }

        Volatile.Write(ref _askedAfter, Interlocked.Read(ref _taken));
        return false;
    }

    public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) =>
        _channel.Reader.WaitToReadAsync(cancellationToken);

    /// <summary>Waits (spinning, at most 30 s of real time) until the reader found the channel empty after taking every frame written.</summary>
    public async Task WaitProcessedAsync(CancellationToken cancellationToken)
    {
        var deadline = Environment.TickCount64 + 30000;
        while (Volatile.Read(ref _askedAfter) != Interlocked.Read(ref _written) && Environment.TickCount64 < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await Task.Yield();
        }

        if (Environment.TickCount64 >= deadline)
        {
            throw new TimeoutException($"the input pipeline did not take {Interlocked.Read(ref _written)} frames within 30 s (took {Interlocked.Read(ref _taken)})");
        }
    }
}
