using Parley.Abstractions.Speech;
using Parley.Core.Input;
using Parley.Core.Turns;
using Parley.Providers.Local;
using Parley.Providers.Tests.Local;
using Parley.Providers.Turns;
using Parley.TurnEval;
using Xunit;

namespace Parley.Providers.Tests.Turns;

/// <summary>
/// The Smart Turn v3-format model on ONNX Runtime, with models written at test time (<see cref="OnnxTestModels"/>):
/// the features reach the model and its probability comes back; a bad file fails naming the setting; and, with the real
/// Silero VAD on speech, the pipeline's turn ends when the model says so.
/// </summary>
public sealed class SmartTurnModelTests : IDisposable
{
    private const string Key = "Parley:Turns:EndOfTurnModel:Path";
    private readonly string _dir = Directory.CreateTempSubdirectory("smart-turn-test").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(byte[] model, string name = "model.onnx")
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, model);
        return path;
    }

    [Fact]
    public void Predict_RunsTheFeaturesThroughTheModel()
    {
        using var model = new SmartTurnModel(Write(OnnxTestModels.MeanSigmoid(weight: 2f, bias: 1f)), Key);
        Assert.Equal(TimeSpan.FromSeconds(8), model.MaxAudio);

        // Silence: every feature is -1.5, so the model computes sigmoid(2 · -1.5 + 1).
        Assert.Equal(1 / (1 + MathF.Exp(2f)), model.Predict(new short[16000]), 5);

        // A tone: the same as running the model on the features computed here.
        var tone = Enumerable.Range(0, 32000).Select(i => (short)(6000 * Math.Sin(2 * Math.PI * 700 * i / 16000))).ToArray();
        var features = new float[80 * 800];
        WhisperLogMel.Compute(tone, features);
        var expected = 1 / (1 + MathF.Exp(-((2f * features.Average()) + 1f)));
        Assert.Equal(expected, model.Predict(tone), 4);
        Assert.NotEqual(model.Predict(new short[16000]), model.Predict(tone), 3);
    }

    [Fact]
    public void MissingCorruptOrWrongFile_FailsNamingTheSetting()
    {
        var missing = Assert.Throws<FileNotFoundException>(() => new SmartTurnModel(Path.Combine(_dir, "none.onnx"), Key));
        Assert.Contains(Key, missing.Message, StringComparison.Ordinal);

        var corrupt = Assert.Throws<InvalidDataException>(() => new SmartTurnModel(Write([1, 2, 3, 4, 5, 6, 7, 8], "corrupt.onnx"), Key));
        Assert.Contains(Key, corrupt.Message, StringComparison.Ordinal);

        var wrongName = Assert.Throws<InvalidDataException>(() => new SmartTurnModel(Write(OnnxTestModels.MeanSigmoid(1, 0, inputName: "input_values"), "v2.onnx"), Key));
        Assert.Contains(Key, wrongName.Message, StringComparison.Ordinal);
        Assert.Contains("input_features", wrongName.Message, StringComparison.Ordinal);

        var wrongShape = Assert.Throws<InvalidDataException>(() => new SmartTurnModel(Write(OnnxTestModels.MeanSigmoid(1, 0, frames: 1500), "whisper30s.onnx"), Key));
        Assert.Contains("[batch, 80, 800]", wrongShape.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Speech (flite) through the real Silero VAD, "book a flight to" recognised (an unfinished clause: 1200 ms without a
    /// model), then silence: a model that says complete ends the turn at the VAD's 500 ms silence.
    /// </summary>
    [Fact]
    [Trait("Category", "RealEngine")]
    public async Task Pipeline_ModelSaysComplete_TurnEndsAtTheVadSilence_SaysIncomplete_HeldToTheMaximum()
    {
        var complete = await HeardAfterSilenceAsync(Write(OnnxTestModels.MeanSigmoid(1e-3f, 4f), "complete.onnx"), "book a flight to", silenceMs: 800);
        Assert.True(complete.Ended, "a complete verdict ends the turn before the unfinished clause's 1200 ms");
        Assert.Equal(1, complete.Consultations);

        var incomplete = await HeardAfterSilenceAsync(Write(OnnxTestModels.MeanSigmoid(1e-3f, -4f), "incomplete.onnx"), "what is the weather like today.", silenceMs: 1000);
        Assert.False(incomplete.Ended, "an incomplete verdict holds a complete sentence past the VAD's silence");
        Assert.Equal(1, incomplete.Consultations);
        var held = await HeardAfterSilenceAsync(Write(OnnxTestModels.MeanSigmoid(1e-3f, -4f), "incomplete2.onnx"), "what is the weather like today.", silenceMs: 1500);
        Assert.True(held.Ended, "at the 1200 ms maximum the turn ends whatever the model said");
    }

    private static async Task<(bool Ended, int Consultations)> HeardAfterSilenceAsync(string modelPath, string words, int silenceMs)
    {
        using var model = new SmartTurnModel(modelPath, Key);
        using var vadFactory = new SileroVadFactory();
        var options = new UserInputOptions
        {
            Vad = new VadSegmenterOptions { SilenceDuration = TimeSpan.FromMilliseconds(500) },
            UnfinishedClauseWait = TimeSpan.FromMilliseconds(1200),
            EndOfTurnModel = new EndOfTurnModelOptions(model),
        };
        var policy = Assert.IsType<ModelEndOfTurn>(options.CreateEndOfTurnPolicy());
        var consulted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var pipeline = new UserInputPipeline(
            options, vadFactory.Create(), () => new OracleRecognizer(() => words), TimeProvider.System, endOfTurn: new Observed(policy, consulted));
        var speech = SpeechTestAudio.Speech("I would like to book a flight");
        var audio = SpeechTestAudio.Concat(SpeechTestAudio.Silence(TimeSpan.FromMilliseconds(500)), speech);
        for (var i = 0; i + 320 <= audio.Length; i += 320)
        {
            await pipeline.PushAsync(audio.AsMemory(i, 320), CancellationToken.None);
        }

        // Silence, 20 ms at a time; once the model was asked, wait for its answer before going on (audio time waits too).
        var silence = new short[320];
        for (var ms = 0; ms < silenceMs; ms += 20)
        {
            await pipeline.PushAsync(silence, CancellationToken.None);
            if (policy.Consultations > 0 && !consulted.Task.IsCompleted)
            {
                await consulted.Task.WaitAsync(TimeSpan.FromSeconds(30));
            }
        }

        var ended = false;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            while (true)
            {
                if (await pipeline.Events.ReadAsync(timeout.Token) is UserTurnCompleted)
                {
                    ended = true;
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        return (ended, policy.Consultations);
    }

    /// <summary>The model policy, telling when its model answered (its reconsider call).</summary>
    private sealed class Observed(ModelEndOfTurn inner, TaskCompletionSource answered) : IAudioEndOfTurnPolicy
    {
        public void OnAudio(ReadOnlySpan<short> samples) => inner.OnAudio(samples);

        public void Attach(Action reconsider) => inner.Attach(() =>
        {
            reconsider();
            answered.TrySetResult();
        });

        public EndOfTurn OnSpeechEnded(in TurnSnapshot turn) => inner.OnSpeechEnded(turn);

        public EndOfTurn OnAudioAdvanced(in TurnSnapshot turn) => inner.OnAudioAdvanced(turn);

        public ValueTask<EndOfTurn> OnFinalTranscriptAsync(TurnSnapshot turn, IConversationView conversation, CancellationToken cancellationToken) =>
            inner.OnFinalTranscriptAsync(turn, conversation, cancellationToken);
    }
}
