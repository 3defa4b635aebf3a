using System.Net;
using System.Net.Sockets;
using Parley.Providers.Net;
using Parley.Testing.FakeLlm;

namespace Parley.Providers.Tests.Net;

public sealed class OutboundPolicyTests
{
    private static readonly OutboundPolicy Strict = new(allowLoopback: false, allowPrivateNetworks: false);

    [Theory]
    [InlineData("file:///etc/passwd")]
    [InlineData("ftp://llm.example/")]
    [InlineData("gopher://llm.example:70/")]
    [InlineData("ws://llm.example/")]
    [InlineData("not a url")]
    public void HttpUrls_OtherSchemes_AreRefused(string url) =>
        Assert.NotNull(OutboundPolicy.Default.CheckUrl(url, OutboundProtocol.Http, UrlOrigin.Operator));

    [Fact]
    public void WebSocketUrls_AllowOnlyWsAndWss()
    {
        Assert.Null(OutboundPolicy.Default.CheckUrl("wss://dashscope.aliyuncs.com/api-ws/v1/inference", OutboundProtocol.WebSocket, UrlOrigin.Operator));
        Assert.Null(OutboundPolicy.Default.CheckUrl("ws://127.0.0.1:9000/", OutboundProtocol.WebSocket, UrlOrigin.Operator));
        Assert.Contains("ws or wss", OutboundPolicy.Default.CheckUrl("https://dashscope.aliyuncs.com/", OutboundProtocol.WebSocket, UrlOrigin.Operator));
    }

    /// <summary>Refused for everyone, whatever the settings: no operator or agent URL may reach these.</summary>
    [Theory]
    [InlineData("http://169.254.169.254/latest/meta-data/")]
    [InlineData("http://169.254.170.2/v2/credentials")]
    [InlineData("http://[fe80::a:b]/")]
    [InlineData("http://[fd00:ec2::254]/latest/meta-data/")]
    [InlineData("http://100.100.100.200/latest/meta-data/")]
    [InlineData("http://192.0.0.192/opc/v2/")]
    [InlineData("http://metadata.google.internal/computeMetadata/v1/")]
    [InlineData("http://METADATA.GOOGLE.INTERNAL./computeMetadata/v1/")]
    [InlineData("http://2852039166/")]
    [InlineData("http://0251.0376.0251.0376/")]
    [InlineData("http://[::ffff:a9fe:a9fe]/")]
    [InlineData("http://[64:ff9b::169.254.169.254]/")]
    [InlineData("http://0.0.0.0:8080/")]
    [InlineData("http://[::]:8080/")]
    [InlineData("http://224.0.0.1/")]
    [InlineData("http://255.255.255.255/")]
    public void LinkLocalMetadataAndUnusableAddresses_AreAlwaysRefused(string url)
    {
        var permissive = new OutboundPolicy(allowLoopback: true, allowPrivateNetworks: true, allowedNetworks: ["0.0.0.0/0", "::/0"]);
        Assert.NotNull(permissive.CheckUrl(url, OutboundProtocol.Http, UrlOrigin.Agent));
        Assert.NotNull(permissive.CheckUrl(url, OutboundProtocol.Http, UrlOrigin.Operator));
    }

    [Theory]
    [InlineData("http://127.0.0.1:11434/v1/chat/completions", "loopback")]
    [InlineData("http://127.8.9.10/", "loopback")]
    [InlineData("http://[::1]:8000/", "loopback")]
    [InlineData("http://localhost:8000/", "loopback")]
    [InlineData("http://llm.localhost/", "loopback")]
    [InlineData("http://10.0.0.5/", "private")]
    [InlineData("http://172.20.1.1/", "private")]
    [InlineData("http://192.168.1.20:8000/", "private")]
    [InlineData("http://100.64.0.1/", "private")]
    [InlineData("http://[fd12:3456::1]/", "private")]
    [InlineData("http://[::ffff:10.0.0.5]/", "private")]
    public void LoopbackAndPrivateAgentUrls_FollowTheSettings(string url, string kind)
    {
        Assert.Contains(kind, Strict.CheckUrl(url, OutboundProtocol.Http, UrlOrigin.Agent));
        Assert.Null(Strict.CheckUrl(url, OutboundProtocol.Http, UrlOrigin.Operator));
        Assert.Null(new OutboundPolicy(allowLoopback: true, allowPrivateNetworks: true).CheckUrl(url, OutboundProtocol.Http, UrlOrigin.Agent));
    }

    [Fact]
    public void AllowedNetworks_OpenOnlyThoseNetworks()
    {
        var policy = new OutboundPolicy(allowLoopback: false, allowPrivateNetworks: false, allowedNetworks: ["10.1.0.0/16", "127.0.0.1"]);
        Assert.Null(policy.CheckUrl("http://10.1.200.3/", OutboundProtocol.Http, UrlOrigin.Agent));
        Assert.Null(policy.CheckUrl("http://127.0.0.1:11434/", OutboundProtocol.Http, UrlOrigin.Agent));
        Assert.NotNull(policy.CheckUrl("http://10.2.0.1/", OutboundProtocol.Http, UrlOrigin.Agent));
        Assert.NotNull(policy.CheckUrl("http://127.0.0.2/", OutboundProtocol.Http, UrlOrigin.Agent));
        Assert.Null(policy.CheckUrl("https://api.openai.com/v1/chat/completions", OutboundProtocol.Http, UrlOrigin.Agent));
        Assert.Throws<FormatException>(() => OutboundPolicy.ParseNetwork("10.0.0.0/33"));
    }

    [Fact]
    public void TheServersOwnEndpoints_AreRefusedEvenWhereLoopbackIsAllowed()
    {
        var policy = new OutboundPolicy(true, true, ownEndpoints: () => ListeningEndpoint.Parse("http://127.0.0.1:8080"));
        foreach (var url in new[] { "http://127.0.0.1:8080/playground/api/call/ListAgents", "http://localhost:8080/", "http://[::1]:8080/", "http://127.0.0.2:8080/" })
        {
            Assert.Contains("own listening endpoint", policy.CheckUrl(url, OutboundProtocol.Http, UrlOrigin.Agent));
            Assert.Contains("own listening endpoint", policy.CheckUrl(url, OutboundProtocol.Http, UrlOrigin.Operator));
        }

        Assert.Null(policy.CheckUrl("http://127.0.0.1:8081/", OutboundProtocol.Http, UrlOrigin.Agent));
        Assert.Null(policy.CheckUrl("http://127.0.0.1/", OutboundProtocol.Http, UrlOrigin.Agent));

        // Listening on every address: any of this machine's addresses with that port is the server itself.
        var local = System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .SelectMany(n => n.GetIPProperties().UnicastAddresses).Select(u => u.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a)) ?? IPAddress.Loopback;
        var wildcard = new OutboundPolicy(true, true, ownEndpoints: () => ListeningEndpoint.Parse("http://[::]:9000"));
        Assert.Contains("own listening endpoint", wildcard.CheckUrl($"http://{local}:9000/", OutboundProtocol.Http, UrlOrigin.Agent));
        Assert.Null(wildcard.CheckUrl("http://203.0.113.7:9000/", OutboundProtocol.Http, UrlOrigin.Agent));
    }

    /// <summary>A name passes the URL check (no DNS there); the connection checks what it resolves to now.</summary>
    [Fact]
    public async Task Connections_CheckTheResolvedAddress_AndNeverDialARefusedOne()
    {
        using var own = new TcpListener(IPAddress.Loopback, 0);
        own.Start();
        var ownPort = ((IPEndPoint)own.LocalEndpoint).Port;
        var resolved = new Dictionary<string, IPAddress[]>
        {
            ["metadata.test"] = [IPAddress.Parse("169.254.169.254")],
            ["self.test"] = [IPAddress.Loopback],
            ["private.test"] = [IPAddress.Parse("10.9.8.7")],
        };
        var policy = new OutboundPolicy(
            allowLoopback: true,
            allowPrivateNetworks: false,
            ownEndpoints: () => [new ListeningEndpoint(IPAddress.Loopback, ownPort)],
            resolve: (host, _) => Task.FromResult(resolved[host]));
        using var http = new HttpClient(policy.CreateHandler(UrlOrigin.Agent));

        foreach (var (url, reason) in new[]
        {
            ("http://metadata.test/latest", "cloud metadata"),
            ($"http://self.test:{ownPort}/playground/api/call/ListAgents", "own listening endpoint"),
            ("http://private.test/", "private-network"),
        })
        {
            Assert.Null(policy.CheckUrl(url, OutboundProtocol.Http, UrlOrigin.Agent));
            var error = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync(url));
            Assert.Contains(reason, OutboundFailure.Describe(error));
            Assert.StartsWith("refused by the outbound URL policy", OutboundFailure.Describe(error));
        }

        Assert.False(own.Pending(), "a refused address was dialled");

        // An allowed address is reached.
        await using var llm = await FakeLlmServer.StartAsync();
        var port = new Uri(llm.Url).Port;
        resolved["llm.test"] = [IPAddress.Loopback];
        var ok = await http.PostAsync($"http://llm.test:{port}/v1/chat/completions", new StringContent("{}"));
        Assert.True(ok.IsSuccessStatusCode);
    }

    [Fact]
    public async Task Handler_FollowsNoRedirects()
    {
        await using var llm = await FakeLlmServer.StartAsync();
        await using var other = await FakeLlmServer.StartAsync();
        llm.Enqueue(FakeLlmResponse.Redirect(other.Url));
        using var http = new HttpClient(OutboundPolicy.Default.CreateHandler(UrlOrigin.Agent));
        var reply = await http.PostAsync(llm.Url, new StringContent("{}"));
        Assert.Equal(HttpStatusCode.Found, reply.StatusCode);
        Assert.Empty(other.Requests);
    }

    [Theory]
    [InlineData("http://127.0.0.1:8080", "127.0.0.1", 8080)]
    [InlineData("http://[::]:80", null, 80)]
    [InlineData("http://+:5000", null, 5000)]
    [InlineData("http://*:5000", null, 5000)]
    [InlineData("http://0.0.0.0:5000", null, 5000)]
    [InlineData("https://[::1]:8443/base", "::1", 8443)]
    public void ListeningEndpoints_ParseKestrelAddresses(string address, string? ip, int port)
    {
        var parsed = Assert.Single(ListeningEndpoint.Parse(address));
        Assert.Equal(ip is null ? null : IPAddress.Parse(ip), parsed.Address);
        Assert.Equal(port, parsed.Port);
        Assert.Equal(2, ListeningEndpoint.Parse("http://localhost:5000").Count());
    }
}
