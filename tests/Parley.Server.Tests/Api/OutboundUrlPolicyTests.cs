using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Parley.Providers.Net;
using Parley.Server.Api;
using Parley.Server.Callbacks;
using Parley.Server.Playground;
using Parley.Server.Tests.Instances;
using Parley.Testing;
using Parley.Testing.FakeLlm;

namespace Parley.Server.Tests.Api;

/// <summary>
/// The outbound URL policy at the API (docs/security.md): agent URLs are refused with 410000003 naming the field, and
/// the server's own playground forwarder cannot be made the target of an agent's LLM calls (issue 10, item 1: one app
/// acting as another).
/// </summary>
public sealed class OutboundUrlPolicyTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private static readonly TestApp AppM = new(3000001, "m3m3m3m3m3m3m3m3m3m3m3m3m3m3m3m3");
    private static readonly TestApp AppN = new(3000002, "n4n4n4n4n4n4n4n4n4n4n4n4n4n4n4n4");

    private static object Tts => new { Vendor = "Local" };

    private static string NewId() => "agent_" + Guid.NewGuid().ToString("N")[..12];

    [Theory]
    [InlineData("http://169.254.169.254/latest/meta-data/", "cloud metadata")]
    [InlineData("http://2852039166/latest/meta-data/", "cloud metadata")]
    [InlineData("http://0xA9FEA9FE/latest/meta-data/", "cloud metadata")]
    [InlineData("http://[::ffff:169.254.169.254]/latest/", "cloud metadata")]
    [InlineData("http://[fd00:ec2::254]/latest/", "cloud metadata")]
    [InlineData("http://100.100.100.200/latest/meta-data/", "cloud metadata")]
    [InlineData("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata")]
    [InlineData("http://169.254.10.20:8080/v1/chat/completions", "link-local")]
    [InlineData("http://[fe80::1]/v1/chat/completions", "link-local")]
    [InlineData("http://0.0.0.0:11434/v1/chat/completions", "not a usable unicast address")]
    [InlineData("http://user:secret@llm.example/v1/chat/completions", "user information")]
    public async Task Register_WithARefusedLlmUrl_Is410000003NamingTheField(string url, string reason)
    {
        var reply = await fixture.Api().CallAsync("RegisterAgent", new { AgentId = NewId(), LLM = new { Url = url, Model = "m" }, TTS = Tts });
        Assert.True(reply.Code() == ReturnCodes.InvalidParameter, reply.ToString());
        Assert.Contains("LLM.Url", reply.Message());
        Assert.Contains(reason, reply.Message());
        Assert.DoesNotContain("secret", reply.Message());
    }

    [Fact]
    public async Task UpdateAgent_AndCreateAgentInstance_CheckTheMergedUrl()
    {
        var api = fixture.Api();
        var id = NewId();
        Assert.Equal(0, (await api.CallAsync("RegisterAgent", new { AgentId = id, LLM = new { Url = "https://llm.example/v1/chat/completions", Model = "m" }, TTS = Tts })).Code());

        var update = await api.CallAsync("UpdateAgent", new { AgentId = id, LLM = new { Url = "http://169.254.169.254/" } });
        Assert.Equal(ReturnCodes.InvalidParameter, update.Code());
        Assert.Contains("LLM.Url", update.Message());

        var create = await api.CallAsync("CreateAgentInstance", new
        {
            AgentId = id,
            UserId = "u1",
            RTC = new { RoomId = "room_p", AgentStreamId = "a_s", AgentUserId = "a_u", UserStreamId = "u_s" },
            LLM = new { Url = "http://[fe80::1]:80/" },
        });
        Assert.Equal(ReturnCodes.InvalidParameter, create.Code());
        Assert.Contains("LLM.Url", create.Message());
    }

    [Fact]
    public async Task DemoLlmUrl_IsAccepted_OtherSchemesAreNot()
    {
        var api = fixture.Api();
        Assert.Equal(0, (await api.CallAsync("RegisterAgent", new { AgentId = NewId(), LLM = new { Url = "parley:demo", Model = "demo" }, TTS = Tts })).Code());
        var reply = await api.CallAsync("RegisterAgent", new { AgentId = NewId(), LLM = new { Url = "parley:other", Model = "demo" }, TTS = Tts });
        Assert.Equal(ReturnCodes.InvalidParameter, reply.Code());
        Assert.Contains("LLM.Url", reply.Message());
    }

    /// <summary>Configured apps without Parley:Outbound settings: agent URLs reach neither loopback nor private networks.</summary>
    [Fact]
    public void ProductionDefaults_RefuseLoopbackAndPrivateAgentUrls_DevelopmentDefaultsAllowThem()
    {
        var production = PolicyFor(new Dictionary<string, string?> { ["Parley:Apps:0:AppId"] = "1", ["Parley:Apps:0:ServerSecret"] = "s" });
        Assert.False(production.AllowsLoopback);
        Assert.False(production.AllowsPrivateNetworks);
        Assert.Contains("loopback", production.CheckUrl("http://127.0.0.1:11434/v1/chat/completions", OutboundProtocol.Http, UrlOrigin.Agent));
        Assert.Contains("loopback", production.CheckUrl("http://localhost:11434/v1/chat/completions", OutboundProtocol.Http, UrlOrigin.Agent));
        Assert.Contains("private", production.CheckUrl("http://10.1.2.3/v1/chat/completions", OutboundProtocol.Http, UrlOrigin.Agent));
        Assert.Null(production.CheckUrl("https://api.openai.com/v1/chat/completions", OutboundProtocol.Http, UrlOrigin.Agent));

        // The operator's own URLs (callbacks, vendors) may be local.
        Assert.Null(production.CheckUrl("http://127.0.0.1:3000/callbacks", OutboundProtocol.Http, UrlOrigin.Operator));

        var development = PolicyFor([]);
        Assert.True(development.AllowsLoopback);
        Assert.Null(development.CheckUrl("http://127.0.0.1:11434/v1/chat/completions", OutboundProtocol.Http, UrlOrigin.Agent));
        Assert.Null(development.CheckUrl("http://192.168.1.20:8000/v1/chat/completions", OutboundProtocol.Http, UrlOrigin.Agent));

        var opened = PolicyFor(new Dictionary<string, string?>
        {
            ["Parley:Apps:0:AppId"] = "1",
            ["Parley:Outbound:AllowedNetworks:0"] = "10.1.2.0/24",
        });
        Assert.Null(opened.CheckUrl("http://10.1.2.3/v1/chat/completions", OutboundProtocol.Http, UrlOrigin.Agent));
        Assert.NotNull(opened.CheckUrl("http://10.1.3.3/v1/chat/completions", OutboundProtocol.Http, UrlOrigin.Agent));

        var bad = Assert.Throws<InvalidOperationException>(() => PolicyFor(new Dictionary<string, string?> { ["Parley:Outbound:AllowedNetworks:0"] = "10.1.2.0/99" }));
        Assert.Contains("Parley:Outbound:AllowedNetworks", bad.Message);
    }

    [Fact]
    public async Task ProductionServer_RefusesALoopbackLlmUrl_UntilTheOperatorAllowsIt()
    {
        await using (var strict = await ParleyTestServer.StartAsync(settings: new Dictionary<string, string?> { ["Parley:Outbound:AllowLoopback"] = "false" }))
        {
            var reply = await new RawApi(strict.CreateHttpClient(), ParleyTestServer.DefaultApp)
                .CallAsync("RegisterAgent", new { AgentId = NewId(), LLM = new { Url = "http://127.0.0.1:11434/v1/chat/completions", Model = "m" }, TTS = Tts });
            Assert.Equal(ReturnCodes.InvalidParameter, reply.Code());
            Assert.Contains("LLM.Url", reply.Message());
            Assert.Contains("Parley:Outbound:AllowLoopback", reply.Message());
        }

        await using var allowed = await ParleyTestServer.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Parley:Outbound:AllowLoopback"] = "false",
            ["Parley:Outbound:AllowedNetworks:0"] = "127.0.0.1",
        });
        var ok = await new RawApi(allowed.CreateHttpClient(), ParleyTestServer.DefaultApp)
            .CallAsync("RegisterAgent", new { AgentId = NewId(), LLM = new { Url = "http://127.0.0.1:11434/v1/chat/completions", Model = "m" }, TTS = Tts });
        Assert.Equal(0, ok.Code());
    }

    [Theory]
    [InlineData("Parley:Apps:0:CallbackUrl", "http://169.254.169.254/cb")]
    [InlineData("Parley:Vendors:DashScope:Url", "ws://[fe80::1]/api-ws/v1/inference")]
    public async Task ConfiguredUrls_AtMetadataOrLinkLocalAddresses_StopTheStart(string key, string url)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var server = await ParleyTestServer.StartAsync(settings: new Dictionary<string, string?> { [key] = url });
        });
        Assert.Contains("outbound URL policy", error.ToString());
    }

    /// <summary>
    /// Issue 10, item 1: app N points its agent's LLM at this server's own playground forwarder, which signs as the first
    /// configured app (M), with LLM.Params becoming the forwarded body. Refused at validation for every spelling of this
    /// server's address, and at connect time for a name that resolves to it; the forwarder itself refuses the LLM
    /// client's request (no token). M's agent survives.
    /// </summary>
    [Fact]
    public async Task AgentLlmUrl_AtThisServersPlaygroundForwarder_IsRefused_AndOneAppCannotActAsAnother()
    {
        var callbacks = new RecordingCallbackPublisher();
        await using var server = await ParleyTestServer.StartAsync(
            [AppM, AppN],
            new Dictionary<string, string?> { ["Parley:Playground:Enabled"] = "true", ["Parley:RateLimitPerSecond"] = "1000" },
            builder =>
            {
                builder.Services.Replace(ServiceDescriptor.Singleton<ICallbackPublisher>(callbacks));
                builder.Services.AddSingleton(new OutboundHostResolver((host, ct) =>
                    host == "forwarder.test" ? Task.FromResult(new[] { IPAddress.Loopback }) : Dns.GetHostAddressesAsync(host, ct)));
            });
        var m = new RawApi(server.CreateHttpClient(), AppM);
        var n = new RawApi(server.CreateHttpClient(), AppN);
        Assert.Equal(0, (await m.CallAsync("RegisterAgent", new { AgentId = "m_agent", LLM = new { Url = "https://llm.example/v1", Model = "m" }, TTS = Tts })).Code());

        var port = server.BaseAddress.Port;
        foreach (var self in new[] { server.BaseAddress.ToString(), $"http://localhost:{port}/", $"http://[::1]:{port}/", $"http://127.0.0.2:{port}/", $"http://[::ffff:127.0.0.1]:{port}/" })
        {
            var reply = await n.CallAsync("RegisterAgent", new
            {
                AgentId = NewId(),
                LLM = new { Url = self + "playground/api/call/UnregisterAgent", Model = "m", Params = new { AgentId = "m_agent" } },
                TTS = Tts,
            });
            Assert.True(reply.Code() == ReturnCodes.InvalidParameter, $"{self}: {reply}");
            Assert.Contains("LLM.Url", reply.Message());
            Assert.Contains("own listening endpoint", reply.Message());
        }

        // A name that resolves to this server passes validation (no DNS there) and is refused when the LLM client connects.
        Assert.Equal(0, (await n.CallAsync("RegisterAgent", new
        {
            AgentId = "n_agent",
            LLM = new { Url = $"http://forwarder.test:{port}/playground/api/call/UnregisterAgent", Model = "m", Params = new { AgentId = "m_agent" } },
            TTS = Tts,
        })).Code());
        var created = await n.CallAsync("CreateAgentInstance", new
        {
            AgentId = "n_agent",
            UserId = "u1",
            RTC = new { RoomId = "room_n", AgentStreamId = "n_s", AgentUserId = "n_u", UserStreamId = "u_s" },
        });
        Assert.Equal(0, created.Code());
        var instanceId = created.Data().GetProperty("AgentInstanceId").GetString()!;
        Assert.Equal(0, (await n.CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = instanceId, Text = "go" })).Code());
        var exception = await callbacks.WaitForAsync(instanceId, CallbackEvents.Exception);
        var message = exception.Data["Message"]!.GetValue<string>();
        Assert.Contains("refused by the outbound URL policy", message);
        Assert.Contains("own listening endpoint", message);

        // The forwarder refuses what an LLM client sends (JSON with a bearer key, but no playground token).
        using var http = server.CreateHttpClient();
        using var forged = new HttpRequestMessage(HttpMethod.Post, "/playground/api/call/UnregisterAgent")
        {
            Content = new StringContent("""{"model":"m","messages":[],"stream":true,"AgentId":"m_agent"}""", Encoding.UTF8, "application/json"),
        };
        forged.Headers.Add("Authorization", "Bearer sk-n");
        Assert.Equal(HttpStatusCode.Forbidden, (await http.SendAsync(forged)).StatusCode);

        var agents = await m.CallAsync("QueryAgents", new { AgentIds = new[] { "m_agent" } });
        Assert.Single(agents.Data().GetProperty("Agents").EnumerateArray());
    }

    private static OutboundPolicy PolicyFor(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddParleyOutboundPolicy(configuration);
        return services.BuildServiceProvider().GetRequiredService<OutboundPolicy>();
    }
}
