using Parley.Core.Input;
using Parley.Core.Turns;
using Parley.Providers.Local;
using Xunit;
using Xunit.Abstractions;

namespace Parley.Providers.Tests.Local;

[Trait("Category", "RealEngine")]
public sealed class UserInputPipelineRealEngineTests(ITestOutputHelper output)
{
    [Fact]
    public async Task FliteWeatherQuestion_In20msFrames_SileroAndPocketSphinx_OneTurnWithWeather()
    {
        using var vadFactory = new SileroVadFactory();
        using var recognizer = new PocketSphinxRecognizerProvider();
        var time = TimeProvider.System;
        await using var detector = new UserInputPipeline(
            new UserInputOptions(),
            vadFactory.Create(),
            () => recognizer.Open(new Abstractions.Speech.SpeechRecognitionOptions(null, null)),
            time);
        var audio = SpeechTestAudio.Concat(
            SpeechTestAudio.Silence(TimeSpan.FromSeconds(1)),
            SpeechTestAudio.Speech("What is the weather like today?"),
            SpeechTestAudio.Silence(TimeSpan.FromSeconds(1.5)));

        for (var i = 0; i + 320 <= audio.Length; i += 320)
        {
            await detector.PushAsync(audio.AsMemory(i, 320), CancellationToken.None);
        }

        var events = new List<UserTurnEvent>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (events.LastOrDefault() is not (UserTurnCompleted or EmptyUtterance or RecognitionFailed))
        {
            events.Add(await detector.Events.ReadAsync(timeout.Token));
        }

        foreach (var e in events)
        {
            output.WriteLine(e.ToString());
        }

        var completed = Assert.IsType<UserTurnCompleted>(events[^1]);
        Assert.Contains("weather", completed.Text, StringComparison.OrdinalIgnoreCase);
        Assert.Single(events.OfType<UserSpeechStarted>());
        Assert.Single(events.OfType<UserSpeechEnded>());
        var final = Assert.Single(events.OfType<TranscriptUpdated>(), t => t.IsFinal);
        Assert.Equal(completed.Text, final.Text);
        Assert.True(events.IndexOf(final) < events.Count - 1, "the final transcript comes before the turn completion");

        // Nothing more: one turn only.
        await Task.Delay(200);
        Assert.False(detector.Events.TryRead(out var extra), $"unexpected event {extra}");
    }
}
