using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Parley.Core.Observability;
using Parley.Core.Sessions;
using Parley.Server.Observability;
using Parley.Server.Tests.Instances;
using Parley.Testing;

namespace Parley.Server.Tests.Observability;

/// <summary>The grain's event lane feeds the observer: a real turn gives a span, and <c>/metrics</c> keeps the turn histograms.</summary>
public sealed class TurnObservationTests(InstanceServerFixture fixture) : IClassFixture<InstanceServerFixture>
{
    [Fact]
    public async Task ATurnOfARunningInstance_GivesATurnSpan_AndItsStagesAtMetrics()
    {
        var telemetry = fixture.Server.Services.GetRequiredService<ParleyTelemetry>();
        var spans = new ConcurrentQueue<Activity>();
        var turn = new TaskCompletionSource<Activity>(TaskCreationOptions.RunContinuationsAsynchronously);
        string? instanceId = null;
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => ReferenceEquals(source, telemetry.ActivitySource),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                spans.Enqueue(activity);
                if (activity.OperationName == TelemetryNames.TurnSpan && Equals(activity.GetTagItem(TelemetryNames.InstanceId), Volatile.Read(ref instanceId)))
                {
                    turn.TrySetResult(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);

        var agent = await fixture.RegisterAgentAsync();
        Volatile.Write(ref instanceId, await fixture.CreateInstanceAsync(fixture.CreateBody(agent)));
        var reply = await fixture.Api().CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = instanceId, Text = "Hi" });
        Assert.True(reply.Code() == 0, reply.ToString());

        var root = await turn.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(("proactive", "finished"), (root.GetTagItem(TelemetryNames.Kind), root.GetTagItem(TelemetryNames.Outcome)));
        Assert.Contains(spans, s => s.ParentSpanId == root.SpanId && s.OperationName == TelemetryNames.LlmFirstTokenSpan);

        var metrics = await Scrape();
        Assert.Contains("parley_turn_stage_seconds_count{stage=\"llm_first_token\"}", metrics, StringComparison.Ordinal);
        Assert.Contains("parley_turns_total{outcome=\"Finished\",kind=\"proactive\"}", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AUserTurn_FedToTheServersObservers_ShowsEveryStageAtMetrics()
    {
        var t0 = DateTimeOffset.UnixEpoch.AddDays(1);
        var observer = fixture.Server.Services.GetRequiredService<SessionObservers>().Create("inst_metrics");
        observer.OnEvent(new TurnLatencyEvent(1, ReplyOutcome.Finished, true, t0, t0.AddMilliseconds(100), t0.AddMilliseconds(110),
            t0.AddMilliseconds(300), t0.AddMilliseconds(500), t0.AddMilliseconds(520)));

        var metrics = await Scrape();
        foreach (var stage in new[] { "asr_final", "end_of_utterance", "llm_first_token", "tts_first_audio", "first_frame_out", "voice_to_voice" })
        {
            Assert.Contains($"parley_turn_stage_seconds_count{{stage=\"{stage}\"}}", metrics, StringComparison.Ordinal);
        }

        Assert.Contains("parley_turns_total{outcome=\"Finished\",kind=\"user\"}", metrics, StringComparison.Ordinal);

        // The OpenTelemetry meter goes out by OTLP; prometheus-net's adapter does not publish it a second time.
        Assert.DoesNotContain("parley_agents_", metrics, StringComparison.Ordinal);
    }

    private async Task<string> Scrape()
    {
        using var http = fixture.Server.CreateHttpClient();
        return await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
    }
}
