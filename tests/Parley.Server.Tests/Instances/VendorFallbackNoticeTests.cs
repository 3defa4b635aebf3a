using System.Text.Json.Nodes;
using Parley.Client;
using Parley.Testing;
using Parley.Testing.Callbacks;
using Parley.Testing.FakeLlm;

namespace Parley.Server.Tests.Instances;

/// <summary>
/// A vendor this server cannot serve as configured is never replaced silently: the instance still speaks and listens
/// (with the fallback engines) and its backend gets an Exception callback naming the vendor and the reason.
/// </summary>
[Trait("Category", "RealEngine")]
public sealed class VendorFallbackNoticeTests
{
    [Fact]
    public async Task CloudVendorsWithoutCredentials_AreReportedAsExceptions_AfterAgentInstanceCreated()
    {
        await using var llm = await FakeLlmServer.StartAsync();
        await using var receiver = await CallbackReceiver.StartAsync("cb-fallback");
        var app = new TestApp(2000031, "a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9", receiver.Url.ToString(), "cb-fallback");
        await using var server = await ParleyTestServer.StartAsync([app]);
        var client = server.CreateClient();
        Assert.Equal(0, (await client.RegisterAgentAsync(new RegisterAgentRequest
        {
            AgentId = "cloudless",
            LLM = new LlmConfig { Url = llm.Url, Model = "m" },
            TTS = new TtsConfig { Vendor = "CosyVoice", Params = JsonNode.Parse("""{"app":{"api_key":""},"payload":{"model":"cosyvoice-v2","parameters":{"voice":"longxiaochun_v2"}}}""")!.AsObject() },
            ASR = new AsrConfig { Vendor = "AliyunParaformer", Params = JsonNode.Parse("""{"app":{}}""")!.AsObject() },
        })).Code);
        var created = await client.CreateAgentInstanceAsync(new CreateAgentInstanceRequest
        {
            AgentId = "cloudless",
            UserId = "u1",
            RTC = new RtcConfig { RoomId = "r-fallback", AgentStreamId = "as1", AgentUserId = "au1", UserStreamId = "us1" },
        });
        Assert.Equal(0, created.Code);

        var callbacks = await receiver.WaitForRequestsAsync(3, TimeSpan.FromSeconds(30));
        var ordered = callbacks.OrderBy(c => c.Sequence).ToList();
        Assert.Equal("AgentInstanceCreated", ordered[0].Event);
        var exceptions = ordered.Where(c => c.Event == "Exception").ToList();
        var tts = Assert.Single(exceptions, e => e.Data!["Code"]!.GetValue<int>() == 2302);
        Assert.Contains("CosyVoice", tts.Data!["Message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("api_key", tts.Data["Message"]!.GetValue<string>(), StringComparison.Ordinal);
        var asr = Assert.Single(exceptions, e => e.Data!["Code"]!.GetValue<int>() == 2101);
        Assert.Contains("AliyunParaformer", asr.Data!["Message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.All(exceptions, e => Assert.True(e.SignatureValid));

        // The instance serves: it answers with the fallback voice.
        llm.Enqueue(FakeLlmResponse.Reply("Still here."));
        Assert.Equal(0, (await client.SendAgentInstanceLLMAsync(new SendAgentInstanceLlmRequest { AgentInstanceId = created.Data!.AgentInstanceId, Text = "hello" })).Code);
        await llm.WaitForRequestAsync();
    }

    [Fact]
    public async Task EnginesThisServerHas_SendNoException()
    {
        await using var llm = await FakeLlmServer.StartAsync();
        await using var receiver = await CallbackReceiver.StartAsync("cb-local");
        var app = new TestApp(2000032, "b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8", receiver.Url.ToString(), "cb-local");
        await using var server = await ParleyTestServer.StartAsync([app]);
        var client = server.CreateClient();
        Assert.Equal(0, (await client.RegisterAgentAsync(new RegisterAgentRequest
        {
            AgentId = "local",
            LLM = new LlmConfig { Url = llm.Url, Model = "m" },
            TTS = new TtsConfig { Vendor = "Local", Params = [] },
        })).Code);
        var created = await client.CreateAgentInstanceAsync(new CreateAgentInstanceRequest
        {
            AgentId = "local",
            UserId = "u1",
            RTC = new RtcConfig { RoomId = "r-local", AgentStreamId = "as1", AgentUserId = "au1", UserStreamId = "us1" },
        });
        Assert.Equal(0, created.Code);
        await receiver.WaitForRequestsAsync(1, TimeSpan.FromSeconds(30));
        Assert.Equal(0, (await client.DeleteAgentInstanceAsync(created.Data!.AgentInstanceId)).Code);
        var callbacks = await receiver.WaitForRequestsAsync(2, TimeSpan.FromSeconds(30));
        Assert.Equal(["AgentInstanceCreated", "AgentInstanceDeleted"], callbacks.OrderBy(c => c.Sequence).Select(c => c.Event));
    }
}
