namespace Parley.TurnEval;

/// <summary>What should happen in a scenario.</summary>
internal enum Expect
{
    /// <summary>The user speaks (with pauses) while the agent is silent: one turn, ended after the last word.</summary>
    OneTurn,

    /// <summary>The agent speaks and hears something that must not stop it (a backchannel, noise, its own echo).</summary>
    KeepSpeaking,

    /// <summary>The agent speaks and the user really interrupts it.</summary>
    Interrupt,
}

/// <summary>A piece of the user's track: audio at an offset, the words it carries (empty for noise).</summary>
internal sealed record Segment(int StartMs, short[] Audio, string Words)
{
    public int EndMs => StartMs + (Audio.Length * 1000 / Clips.Rate);

    /// <summary>Where the audio first gets audible (a 20 ms block above −35 dBFS), in ms from the scenario start.</summary>
    public int OnsetMs => StartMs + (Math.Max(0, Parley.Testing.Speech.SpeechTrim.AudibleOnset(Audio)) * 1000 / Clips.Rate);
}

/// <summary>One labelled conversation moment of the evaluation set.</summary>
internal sealed record Scenario(string Name, string Category, Expect Expect, IReadOnlyList<Segment> Segments, int DurationMs, bool AgentSpeaks, bool Echo, string? Noise, double? SnrDb)
{
    /// <summary>The agent's proactive speech in the scenarios where it talks (about 9 s of flite).</summary>
    public const string AgentText = "Here is the forecast for the week. Monday will be sunny and warm. Tuesday brings clouds in the afternoon. Wednesday looks rainy, so take an umbrella.";

    /// <summary>When the agent starts speaking (ms).</summary>
    public const int AgentStartMs = 300;

    /// <summary>Echo path: the agent's own audio back in the microphone this much later, at −20 dB.</summary>
    public const int EchoDelayMs = 60;

    public const double EchoGain = 0.1;

    /// <summary>The labelled words audible at <paramref name="ms"/> (the segment under it, or the one that ended in the last second).</summary>
    public string WordsAt(double ms)
    {
        var current = Segments.LastOrDefault(s => s.StartMs <= ms && ms < s.EndMs + 1000);
        return current?.Words ?? "";
    }

    /// <summary>The user's track for the whole scenario (segments plus the noise bed at its SNR against the speech).</summary>
    public short[] UserTrack()
    {
        var track = new short[DurationMs * Clips.Rate / 1000];
        foreach (var segment in Segments)
        {
            Clips.MixInto(track, segment.Audio, segment.StartMs * Clips.Rate / 1000, 1.0);
        }

        if (Noise is not null && SnrDb is { } snr)
        {
            var speech = Segments.Where(s => s.Words.Length > 0).SelectMany(s => s.Audio).ToArray();
            var bed = Clips.NoiseBed(Noise, track.Length);
            Clips.MixInto(track, bed, 0, Clips.GainForSnr(speech, bed, snr));
        }

        return track;
    }
}

/// <summary>The evaluation set, made at run time (shared/issue 14: pauses, backchannels, barge-ins, noise, echo, SNRs).</summary>
internal static class EvaluationSet
{
    private static readonly (string First, string Second)[] Paused =
    [
        ("I'd like to book a flight to", "Boston on Friday."),
        ("Can you tell me about the", "weather in Paris?"),
        ("My account number is", "four five six seven."),
        ("I was wondering if", "you could help me with my order."),
    ];

    private static readonly string[] Questions =
    [
        "What is the weather like today?",
        "Can you set an alarm for seven?",
        "How long does the train take?",
        "Tell me a joke about cats.",
    ];

    private static readonly string[] Backchannels = ["mm-hmm", "uh-huh", "yeah", "right", "okay"];

    private static readonly string[] MandarinBackchannels = ["嗯", "对"];

    private static readonly string[] BargeIns =
    [
        "Wait, stop.",
        "No, I meant tomorrow.",
        "Stop please. What time is it?",
        "Hold on a second.",
        "Actually, can you repeat that?",
    ];

    /// <summary>Every scenario; <paramref name="quick"/> keeps one of each kind (for the smoke test).</summary>
    public static IReadOnlyList<Scenario> Build(bool quick = false)
    {
        var set = new List<Scenario>();
        int[] pauses = quick ? [900] : [300, 600, 900, 1200];
        foreach (var (first, rest) in quick ? Paused[..1] : Paused)
        {
            foreach (var pause in pauses)
            {
                set.Add(PausedTurn(first, rest, pause, null, null));
            }
        }

        if (!quick)
        {
            set.Add(PausedTurn(Paused[0].First, Paused[0].Second, 600, "babble", 10));
            set.Add(PausedTurn(Paused[2].First, Paused[2].Second, 600, "white", 10));
        }

        foreach (var question in quick ? Questions[..1] : Questions)
        {
            set.Add(Question(question, null, null));
            if (!quick)
            {
                set.Add(Question(question, "white", 20));
                set.Add(Question(question, "babble", 10));
            }
        }

        foreach (var word in quick ? Backchannels[..1] : Backchannels)
        {
            set.Add(OverAgent("backchannel", $"backchannel '{word}'", Expect.KeepSpeaking, Clips.Say(word), word, echo: false));
        }

        if (!quick)
        {
            foreach (var word in MandarinBackchannels)
            {
                set.Add(OverAgent("backchannel", $"backchannel '{word}' (zh)", Expect.KeepSpeaking, Clips.SayMandarin(word), word, echo: false));
            }

            set.Add(OverAgent("backchannel", "backchannel 'yeah' with echo", Expect.KeepSpeaking, Clips.Say("yeah"), "yeah", echo: true));
            set.Add(OverAgent("noise", "cough", Expect.KeepSpeaking, Clips.Cough(), "", echo: false));
            set.Add(OverAgent("noise", "door slam", Expect.KeepSpeaking, Clips.DoorSlam(), "", echo: false));
            set.Add(OverAgent("noise", "keyboard clicks", Expect.KeepSpeaking, Clips.Clicks(), "", echo: false));
            set.Add(OverAgent("noise", "babble burst", Expect.KeepSpeaking, Clips.Babble(), "", echo: false));
        }

        set.Add(OverAgent("echo", "the agent's own voice at −20 dB", Expect.KeepSpeaking, [], "", echo: true));
        foreach (var bargeIn in quick ? BargeIns[..1] : BargeIns)
        {
            set.Add(OverAgent("barge-in", $"'{bargeIn}'", Expect.Interrupt, Clips.Say(bargeIn), bargeIn, echo: false));
            if (!quick)
            {
                set.Add(OverAgent("barge-in", $"'{bargeIn}' with echo", Expect.Interrupt, Clips.Say(bargeIn), bargeIn, echo: true));
                set.Add(OverAgent("barge-in", $"'{bargeIn}' in babble 10 dB", Expect.Interrupt, Clips.Say(bargeIn), bargeIn, echo: false, "babble", 10));
            }
        }

        return set;
    }

    private static Scenario PausedTurn(string first, string rest, int pauseMs, string? noise, double? snr)
    {
        var a = new Segment(500, Clips.Say(first), first);
        var b = new Segment(a.EndMs + pauseMs, Clips.Say(rest), rest);
        var name = $"'{first} … {rest}' pause {pauseMs} ms" + (noise is null ? "" : $" in {noise} {snr} dB");
        return new Scenario(name, "pause", Expect.OneTurn, [a, b], b.EndMs + 3000, AgentSpeaks: false, Echo: false, noise, snr);
    }

    private static Scenario Question(string text, string? noise, double? snr)
    {
        var a = new Segment(500, Clips.Say(text), text);
        var name = $"'{text}'" + (noise is null ? "" : $" in {noise} {snr} dB");
        return new Scenario(name, "question", Expect.OneTurn, [a], a.EndMs + 3000, AgentSpeaks: false, Echo: false, noise, snr);
    }

    private static Scenario OverAgent(string category, string name, Expect expect, short[] audio, string words, bool echo, string? noise = null, double? snr = null)
    {
        Segment[] segments = audio.Length == 0 ? [] : [new Segment(2500, audio, words)];
        return new Scenario(name, category, expect, segments, 6500, AgentSpeaks: true, echo, noise, snr);
    }
}
