using Parley.Server.Api;
using Parley.Testing;

namespace Parley.Server.Tests.Api;

public sealed class AgentQuotaTests
{
    private static object Agent(string id) => new { AgentId = id, LLM = new { Url = "http://127.0.0.1:9/v1/chat/completions", Model = "m" }, TTS = new { Vendor = "Local" } };

    [Fact]
    public async Task RegisterAgent_BeyondMaxAgentsPerApp_IsRefusedWith410000010_PerApp_UntilOneIsUnregistered()
    {
        var app = new TestApp(1000555, "f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5");
        var other = new TestApp(1000556, "f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6");
        await using var server = await ParleyTestServer.StartAsync([app, other], new Dictionary<string, string?> { ["Parley:MaxAgentsPerApp"] = "3", ["Parley:RateLimitPerSecond"] = "0" });
        var api = new RawApi(server.CreateHttpClient(), app);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(0, (await api.CallAsync("RegisterAgent", Agent($"a{i}"))).Code());
        }

        var refused = await api.CallAsync("RegisterAgent", Agent("a3"));
        Assert.Equal(ReturnCodes.AgentLimitReached, refused.Code());
        Assert.Contains("Parley:MaxAgentsPerApp", refused.Message());
        Assert.Equal(ReturnCodes.AgentAlreadyExists, (await api.CallAsync("RegisterAgent", Agent("a0"))).Code());
        Assert.Equal(3, (await api.CallAsync("ListAgents")).Data().GetProperty("Total").GetInt32());

        // Another app has its own quota.
        Assert.Equal(0, (await new RawApi(server.CreateHttpClient(), other).CallAsync("RegisterAgent", Agent("a0"))).Code());

        Assert.Equal(0, (await api.CallAsync("UnregisterAgent", new { AgentId = "a1" })).Code());
        Assert.Equal(0, (await api.CallAsync("RegisterAgent", Agent("a3"))).Code());
    }

    [Fact]
    public async Task ConcurrentRegistrations_CannotPassTheLimit()
    {
        var app = new TestApp(1000557, "f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7");
        await using var server = await ParleyTestServer.StartAsync([app], new Dictionary<string, string?> { ["Parley:MaxAgentsPerApp"] = "4", ["Parley:RateLimitPerSecond"] = "0" });
        var api = new RawApi(server.CreateHttpClient(), app);

        var replies = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => api.CallAsync("RegisterAgent", Agent($"c{i}"))));

        Assert.Equal(4, replies.Count(r => r.Code() == 0));
        Assert.Equal(12, replies.Count(r => r.Code() == ReturnCodes.AgentLimitReached));
        Assert.Equal(4, (await api.CallAsync("ListAgents")).Data().GetProperty("Total").GetInt32());
    }
}
