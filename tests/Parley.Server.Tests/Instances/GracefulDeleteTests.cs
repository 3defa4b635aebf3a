using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Server.Api;
using Parley.Server.Callbacks;
using Parley.Testing;

namespace Parley.Server.Tests.Instances;

/// <summary>
/// DeleteAgentInstance <c>GracefulShutdown</c> / <c>GracefulShutdownTimeout</c> (delete-agent-instance.yaml, 2.10.0):
/// the call answers at once; the instance ends once the agent is IDLE, at the latest after the timeout; meanwhile every
/// call on it is 410001041.
/// </summary>
public sealed class GracefulDeleteTests(InstanceServerFixture fixture) : IClassFixture<InstanceServerFixture>
{
    private const string Sentence = "This announcement plays for a while.";

    private static readonly string LongText = string.Join(' ', Enumerable.Repeat(Sentence, 8));

    private async Task<JsonElement> CallAsync(string action, object body) => await fixture.Api().CallAsync(action, body);

    private static void AssertCode(int expected, JsonElement reply) => Assert.True(reply.Code() == expected, $"expected {expected}: {reply}");

    private async Task<string> NewInstanceAsync() => await fixture.CreateInstanceAsync(fixture.CreateBody(await fixture.RegisterAgentAsync()));

    [Fact]
    public async Task WhileSpeaking_TheDeleteAnswersAtOnce_TheSpeechFinishes_ThenTheInstanceEnds()
    {
        var id = await NewInstanceAsync();
        AssertCode(0, await CallAsync("SendAgentInstanceTTS", new { AgentInstanceId = id, Text = Sentence + " " + Sentence }));
        await fixture.WaitForStatusAsync(id, "SPEAKING");

        var clock = Stopwatch.StartNew();
        AssertCode(0, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = id, GracefulShutdown = true }));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), "the graceful delete waited before answering");

        // Meanwhile: every call on the instance, a second delete included, is 410001041.
        AssertCode(ReturnCodes.InstanceShuttingDown, await CallAsync("SendAgentInstanceTTS", new { AgentInstanceId = id, Text = "More." }));
        AssertCode(ReturnCodes.InstanceShuttingDown, await CallAsync("QueryAgentInstanceStatus", new { AgentInstanceId = id }));
        AssertCode(ReturnCodes.InstanceShuttingDown, await CallAsync("InterruptAgentInstance", new { AgentInstanceId = id }));
        AssertCode(ReturnCodes.InstanceShuttingDown, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));

        var deleted = await fixture.Callbacks.WaitForAsync(id, CallbackEvents.AgentInstanceDeleted, timeout: TimeSpan.FromSeconds(20));
        Assert.Equal(0, deleted.Data["Code"]!.GetValue<int>());

        // The two sentences (~4 s of flite) played out: the end came well after the call, and nothing was cut.
        Assert.True(clock.Elapsed > TimeSpan.FromSeconds(1), $"deleted after only {clock.Elapsed.TotalMilliseconds:0} ms: it did not wait for the speech");
        Assert.DoesNotContain(fixture.Callbacks.For(id), e => e.Event == CallbackEvents.Interrupted);
        AssertCode(ReturnCodes.InstanceNotFound, await CallAsync("QueryAgentInstanceStatus", new { AgentInstanceId = id }));
    }

    [Fact]
    public async Task TheTimeout_EndsAnInstanceThatIsStillSpeaking()
    {
        var id = await NewInstanceAsync();
        AssertCode(0, await CallAsync("SendAgentInstanceTTS", new { AgentInstanceId = id, Text = LongText }));
        await fixture.WaitForStatusAsync(id, "SPEAKING");

        var clock = Stopwatch.StartNew();
        AssertCode(0, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = id, GracefulShutdown = true, GracefulShutdownTimeout = 1 }));
        await fixture.Callbacks.WaitForAsync(id, CallbackEvents.AgentInstanceDeleted, timeout: TimeSpan.FromSeconds(10));

        // ~15 s of speech: ended by the 1 s timeout, not by the speech's end.
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(8));
    }

    [Fact]
    public async Task AnIdleInstance_EndsAtOnce_AndWithoutGracefulShutdownTheTimeoutIsIgnored()
    {
        var idle = await NewInstanceAsync();
        var clock = Stopwatch.StartNew();
        AssertCode(0, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = idle, GracefulShutdown = true, GracefulShutdownTimeout = 120 }));
        await fixture.Callbacks.WaitForAsync(idle, CallbackEvents.AgentInstanceDeleted, timeout: TimeSpan.FromSeconds(10));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"an idle instance took {clock.Elapsed.TotalMilliseconds:0} ms");

        var plain = await NewInstanceAsync();
        AssertCode(0, await CallAsync("SendAgentInstanceTTS", new { AgentInstanceId = plain, Text = LongText }));
        await fixture.WaitForStatusAsync(plain, "SPEAKING");
        AssertCode(0, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = plain, GracefulShutdown = false, GracefulShutdownTimeout = 60 }));
        AssertCode(ReturnCodes.InstanceNotFound, await CallAsync("QueryAgentInstanceStatus", new { AgentInstanceId = plain }));
    }

    [Theory]
    [InlineData("""{"GracefulShutdown":"yes"}""", "GracefulShutdown")]
    [InlineData("""{"GracefulShutdown":true,"GracefulShutdownTimeout":0}""", "GracefulShutdownTimeout")]
    [InlineData("""{"GracefulShutdown":true,"GracefulShutdownTimeout":121}""", "GracefulShutdownTimeout")]
    [InlineData("""{"GracefulShutdown":true,"GracefulShutdownTimeout":"30"}""", "GracefulShutdownTimeout")]
    [InlineData("""{"GracefulShutdown":true,"GracefulShutdownTimeout":2.5}""", "GracefulShutdownTimeout")]
    public async Task BadValues_Are410000003NamingTheField_AndTheInstanceStays(string fields, string field)
    {
        var id = await NewInstanceAsync();
        var body = JsonNode.Parse(fields)!.AsObject();
        body["AgentInstanceId"] = id;
        var reply = await fixture.Api().CallAsync("DeleteAgentInstance", body);
        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.Contains(field, reply.Message());
        AssertCode(0, await CallAsync("QueryAgentInstanceStatus", new { AgentInstanceId = id }));
        AssertCode(0, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
    }
}
