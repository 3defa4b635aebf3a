using System.Text.Json.Nodes;
using Parley.Server.Api;
using Parley.Testing;
using Parley.Testing.Callbacks;

namespace Parley.Server.Tests.Callbacks;

/// <summary>
/// <c>CallbackConfig.HostTag</c> (shared-components.yaml, 2.8.0) picks one of the app's configured callback URLs
/// (Parley: <c>Parley:Apps:N:CallbackUrls:&lt;tag&gt;</c>); the outbox keeps the tag per row.
/// </summary>
public sealed class HostTagTests
{
    [Fact]
    public async Task ATaggedInstance_SendsItsCallbacksToTheTaggedUrl_OthersToTheAppsUrl()
    {
        await using var main = await CallbackReceiver.StartAsync("tag-secret");
        await using var billing = await CallbackReceiver.StartAsync("tag-secret");
        var app = new TestApp(4600001, "d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1", main.Url.ToString(), "tag-secret");
        await using var server = await ParleyTestServer.StartAsync([app], new Dictionary<string, string?> { ["Parley:Apps:0:CallbackUrls:billing"] = billing.Url.ToString() });
        var api = new RawApi(server.CreateHttpClient(), app);
        Assert.Equal(0, (await api.CallAsync("RegisterAgent", new JsonObject
        {
            ["AgentId"] = "tagged",
            ["LLM"] = new JsonObject { ["Url"] = "http://127.0.0.1:9/v1/chat/completions", ["Model"] = "m" },
            ["TTS"] = new JsonObject { ["Vendor"] = "Local" },
        })).Code());

        JsonObject Body(string user, string? tag)
        {
            var body = new JsonObject
            {
                ["AgentId"] = "tagged",
                ["UserId"] = user,
                ["RTC"] = new JsonObject { ["RoomId"] = "r_" + user, ["AgentStreamId"] = "as_" + user, ["AgentUserId"] = "a_" + user, ["UserStreamId"] = "us_" + user },
            };
            if (tag is not null)
            {
                body["CallbackConfig"] = new JsonObject { ["HostTag"] = tag };
            }

            return body;
        }

        var unknown = await api.CallAsync("CreateAgentInstance", Body("u0", "payments"));
        Assert.Equal(ReturnCodes.InvalidParameter, unknown.Code());
        Assert.Contains("CallbackConfig.HostTag", unknown.Message());

        var tagged = (await api.CallAsync("CreateAgentInstance", Body("u1", "billing"))).Data().GetProperty("AgentInstanceId").GetString()!;
        var plain = (await api.CallAsync("CreateAgentInstance", Body("u2", null))).Data().GetProperty("AgentInstanceId").GetString()!;
        Assert.Equal(0, (await api.CallAsync("DeleteAgentInstance", new { AgentInstanceId = tagged })).Code());
        Assert.Equal(0, (await api.CallAsync("DeleteAgentInstance", new { AgentInstanceId = plain })).Code());

        await WaitForAsync(() => billing.Requests.Any(r => r.Event == "AgentInstanceDeleted") && main.Requests.Any(r => r.Event == "AgentInstanceDeleted"));
        Assert.All(billing.Requests, r => Assert.Equal(tagged, r.Body["AgentInstanceId"]!.GetValue<string>()));
        Assert.All(main.Requests, r => Assert.Equal(plain, r.Body["AgentInstanceId"]!.GetValue<string>()));
        Assert.Contains(billing.Requests, r => r.Event == "AgentInstanceCreated");
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (var i = 0; i < 300 && !condition(); i++)
        {
            await Task.Delay(50);
        }

        Assert.True(condition(), "the callbacks did not arrive");
    }
}
