using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Server.Api;
using Parley.Server.Callbacks;
using Parley.Server.Instances;
using Parley.Testing;
using Parley.Testing.FakeLlm;

namespace Parley.Server.Tests.Instances;

/// <summary>
/// The control actions of ZEGO's 2.13.5 contract: Data.Round in the replies of SendAgentInstanceLLM/TTS and
/// InterruptAgentInstance, AddAgentInstanceMsg, Priority High and the Enqueue queue of at most 5.
/// </summary>
public sealed class ControlRoundTests(InstanceServerFixture fixture) : IClassFixture<InstanceServerFixture>
{
    private async Task<JsonElement> CallAsync(string action, object body) => await fixture.Api().CallAsync(action, body);

    private static void AssertCode(int expected, JsonElement reply) => Assert.True(reply.Code() == expected, $"expected {expected}: {reply}");

    private static long Round(JsonElement reply) => reply.Data().GetProperty("Round").GetInt64();

    private async Task<string> NewInstanceAsync() => await fixture.CreateInstanceAsync(fixture.CreateBody(await fixture.RegisterAgentAsync()));

    [Fact]
    public async Task SendLlm_SendTts_Interrupt_AnswerDataRound()
    {
        var id = await NewInstanceAsync();
        fixture.Llm.Enqueue(FakeLlmResponse.Reply(TimeSpan.FromMilliseconds(300), "Once", " upon", " a", " time", " there", " was."));

        var llm = await CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = id, Text = "Tell a story" });
        AssertCode(0, llm);
        var llmRound = Round(llm);
        Assert.True(llmRound > 0);
        await fixture.WaitForStatusAsync(id, "THINKING");

        var interrupt = await CallAsync("InterruptAgentInstance", new { AgentInstanceId = id });
        AssertCode(0, interrupt);
        Assert.Equal(llmRound, Round(interrupt));
        var interrupted = await fixture.Callbacks.WaitForAsync(id, CallbackEvents.Interrupted);
        Assert.Equal(llmRound, interrupted.Data["Round"]!.GetValue<long>());
        await fixture.WaitForStatusAsync(id, "IDLE");

        // Nothing runs: success, Round 0.
        var idle = await CallAsync("InterruptAgentInstance", new { AgentInstanceId = id });
        AssertCode(0, idle);
        Assert.Equal(0, Round(idle));

        var tts = await CallAsync("SendAgentInstanceTTS", new { AgentInstanceId = id, Text = "Hello there." });
        AssertCode(0, tts);
        Assert.True(Round(tts) > llmRound);
        AssertCode(0, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
    }

    [Fact]
    public async Task AddAgentInstanceMsg_AppendsToTheContext_WithoutLlmCallSubtitleOrRound()
    {
        var id = await NewInstanceAsync();
        var llmCalls = fixture.Llm.Requests.Count;
        var reply = await CallAsync("AddAgentInstanceMsg", new
        {
            AgentInstanceId = id,
            Messages = new[] { new { Role = "user", Content = "I want product information" }, new { Role = "assistant", Content = "You just saw a skincare product" } },
        });
        AssertCode(0, reply);

        Assert.Equal([("user", "I want product information"), ("assistant", "You just saw a skincare product")], await fixture.MessagesAsync(id));
        AssertCode(0, await CallAsync("AddAgentInstanceMsg", new { AgentInstanceId = id, Messages = new[] { new { Role = "user", Content = "third" } } }));
        Assert.Equal(3, (await fixture.MessagesAsync(id)).Length);
        Assert.Equal("IDLE", (await CallAsync("QueryAgentInstanceStatus", new { AgentInstanceId = id })).Status());
        Assert.Equal(llmCalls, fixture.Llm.Requests.Count);
        Assert.DoesNotContain(fixture.Callbacks.For(id), e => e.Event is CallbackEvents.LlmResult or CallbackEvents.Interrupted);
        AssertCode(0, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
    }

    [Theory]
    [InlineData("""[{"Role":"system","Content":"x"}]""", "Messages[0].Role")]
    [InlineData("""[{"Content":"x"}]""", "Messages[0].Role")]
    [InlineData("""[{"Role":"user","Content":"a"},{"Role":"assistant"}]""", "Messages[1].Content")]
    [InlineData("""[{"Role":"user","Content":5}]""", "Messages[0].Content")]
    [InlineData("""["hello"]""", "Messages[0]")]
    [InlineData("""{"Role":"user"}""", "Messages must be an array")]
    public async Task AddAgentInstanceMsg_BadBodies_NameTheField_AndAddNothing(string messages, string named)
    {
        var id = await NewInstanceAsync();
        var body = JsonNode.Parse($$"""{"AgentInstanceId":"{{id}}","Messages":{{messages}}}""")!;
        var reply = await fixture.Api().CallAsync("AddAgentInstanceMsg", body);
        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.Contains(named, reply.Message());
        Assert.Empty(await fixture.MessagesAsync(id));
        AssertCode(0, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
    }

    [Fact]
    public async Task AddAgentInstanceMsg_UnknownInstance_Is410001002()
    {
        var reply = await CallAsync("AddAgentInstanceMsg", new { AgentInstanceId = "no_such_instance", Messages = new[] { new { Role = "user", Content = "x" } } });
        AssertCode(ReturnCodes.InstanceNotFound, reply);
        Assert.Equal(410001002, ReturnCodes.InstanceNotFound);
    }

    private static readonly string LongText = string.Join(' ', Enumerable.Repeat("This announcement plays for a while.", 8));

    [Fact]
    public async Task InterruptMode1_WithoutPriority_IsHigh_AMediumTtsWaitsInsteadOfInterrupting()
    {
        var id = await NewInstanceAsync();
        AssertCode(0, await CallAsync("SendAgentInstanceTTS", new { AgentInstanceId = id, Text = LongText, InterruptMode = 1 }));
        await fixture.WaitForStatusAsync(id, "SPEAKING");

        var next = await CallAsync("SendAgentInstanceTTS", new { AgentInstanceId = id, Text = "Next." });
        AssertCode(0, next);
        await Task.Delay(300);
        Assert.DoesNotContain(fixture.Callbacks.For(id), e => e.Event == CallbackEvents.Interrupted);
        AssertCode(0, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
    }

    [Fact]
    public async Task Enqueue_HoldsAtMostFive_TheSixthIs410001007_AndTheLlmOne410001006()
    {
        var id = await NewInstanceAsync();
        AssertCode(0, await CallAsync("SendAgentInstanceTTS", new { AgentInstanceId = id, Text = LongText }));
        for (var i = 0; i < 5; i++)
        {
            AssertCode(0, await CallAsync("SendAgentInstanceTTS", new { AgentInstanceId = id, Text = $"Queued {i}.", SamePriorityOption = "Enqueue" }));
        }

        var sixth = await CallAsync("SendAgentInstanceTTS", new { AgentInstanceId = id, Text = "Sixth.", SamePriorityOption = "Enqueue" });
        AssertCode(ReturnCodes.SendTtsFailed, sixth);
        Assert.Contains("at most 5", sixth.Message());
        var llm = await CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = id, Text = "Sixth", SamePriorityOption = "Enqueue" });
        AssertCode(ReturnCodes.SendLlmFailed, llm);
        Assert.Contains("queue is full", llm.Message());
        Assert.Equal((410001006, 410001007), (ReturnCodes.SendLlmFailed, ReturnCodes.SendTtsFailed));

        // A higher priority is not queued: it replaces the reply playing.
        AssertCode(0, await CallAsync("SendAgentInstanceTTS", new { AgentInstanceId = id, Text = "Urgent.", Priority = "High", SamePriorityOption = "Enqueue" }));
        AssertCode(0, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
    }
}
