using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Parley.Rtc.Tokens;
using Parley.Server.Playground;
using Parley.Testing;
using Parley.Testing.FakeLlm;
using Parley.Testing.Speech;
using Xunit.Abstractions;

namespace Parley.Server.Tests.Browser;

/// <summary>The playground page and its loopback-only API, and a real conversation through the page in headless Chromium.</summary>
/// <remarks>Not in parallel with other tests: Chromium must not run beside the real-time voice loop tests on two cores.</remarks>
[Collection(BrowserCollection.Name)]
[Trait("Category", "Browser")]
public sealed class PlaygroundTests(ITestOutputHelper output)
{
    private const string ChromiumPath = "/usr/bin/chromium";

    /// <summary>Test servers configure an app, so the playground is on only when asked for (as in production).</summary>
    private static readonly Dictionary<string, string?> PlaygroundOn = new() { ["Parley:Playground:Enabled"] = "true", ["Parley:RateLimitPerSecond"] = "100" };

    [Fact]
    public async Task Root_BrowserGetServesPlayground_ApiRequestsStillReachControlApi()
    {
        await using var server = await ParleyTestServer.StartAsync(settings: PlaygroundOn);
        using var http = server.CreateHttpClient();

        var page = await http.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Parley playground", await page.Content.ReadAsStringAsync());
        Assert.Equal("DENY", page.Headers.GetValues("X-Frame-Options").Single());

        var client = await http.GetAsync("/parley-client.js");
        Assert.Equal("text/javascript", client.Content.Headers.ContentType?.MediaType);
        Assert.Contains("export async function connect", await client.Content.ReadAsStringAsync());

        // GET with an Action and POST are control API calls (unsigned here: the API's own error envelope).
        using var api = JsonDocument.Parse(await http.GetStringAsync("/?Action=QueryAgents"));
        Assert.NotEqual(0, api.RootElement.GetProperty("Code").GetInt32());
        using var post = JsonDocument.Parse(await (await http.PostAsync("/?Action=QueryAgents", new StringContent("{}", Encoding.UTF8, "application/json"))).Content.ReadAsStringAsync());
        Assert.NotEqual(0, post.RootElement.GetProperty("Code").GetInt32());
    }

    [Fact]
    public async Task Playground_WithConfiguredApps_IsOffUnlessEnabled_TheClientLibraryStaysServed()
    {
        await using var server = await ParleyTestServer.StartAsync();
        using var http = server.CreateHttpClient();

        // "/" is the control API's again (an error envelope), the playground's paths are gone.
        using var root = JsonDocument.Parse(await http.GetStringAsync("/"));
        Assert.NotEqual(0, root.RootElement.GetProperty("Code").GetInt32());
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/playground.js")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.PostAsync("/playground/api/session", Json("{}"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.PostAsync("/playground/api/call/ListAgents", Json("{}"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/parley-client.js")).StatusCode);
    }

    [Fact]
    public async Task Playground_OnTheDevelopmentApp_IsOnByDefault()
    {
        await using var server = await ParleyTestServer.StartAsync(apps: []);
        using var http = server.CreateHttpClient();
        var token = await PageTokenAsync(http);
        var reply = await http.SendAsync(ApiRequest("/playground/api/call/ListAgents", "{}", token));
        Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
        using var envelope = JsonDocument.Parse(await reply.Content.ReadAsStringAsync());
        Assert.Equal(0, envelope.RootElement.GetProperty("Code").GetInt32());
    }

    [Fact]
    public async Task PlaygroundApi_WithThePageToken_SignsCallsAndMintsTokens()
    {
        await using var server = await ParleyTestServer.StartAsync(settings: PlaygroundOn);
        using var http = server.CreateHttpClient();
        var token = await PageTokenAsync(http);

        var agentsText = await (await http.SendAsync(ApiRequest("/playground/api/call/ListAgents", "{}", token))).Content.ReadAsStringAsync();
        output.WriteLine(agentsText);
        using var agents = JsonDocument.Parse(agentsText);
        Assert.True(agents.RootElement.GetProperty("Code").GetInt32() == 0, agentsText);

        var session = await http.SendAsync(ApiRequest("/playground/api/session", "{\"RoomId\":\"r1\",\"UserId\":\"u1\"}", token));
        using var body = JsonDocument.Parse(await session.Content.ReadAsStringAsync());
        var app = ParleyTestServer.DefaultApp;
        Assert.Equal(app.AppId, body.RootElement.GetProperty("AppId").GetUInt32());
        var verifier = server.Services.GetRequiredService<Token04Verifier>();
        var check = verifier.VerifyLogin(body.RootElement.GetProperty("Token").GetString(), app.AppId, "u1", "r1");
        Assert.True(check.IsValid, check.Message);

        // A new start, a new token: the old page's token no longer works.
        await server.RestartAsync();
        using var again = server.CreateHttpClient();
        Assert.Equal(HttpStatusCode.Forbidden, (await again.SendAsync(ApiRequest("/playground/api/session", "{}", token))).StatusCode);
        Assert.NotEqual(token, await PageTokenAsync(again));
    }

    /// <summary>Both API paths refuse every request that is not the page's own: no token, a wrong one, another origin, not JSON, a proxy.</summary>
    [Theory]
    [InlineData("/playground/api/call/ListAgents")]
    [InlineData("/playground/api/session")]
    public async Task PlaygroundApi_RefusesRequestsThatAreNotThePagesOwn(string path)
    {
        await using var server = await ParleyTestServer.StartAsync(settings: PlaygroundOn);
        using var http = server.CreateHttpClient();
        var token = await PageTokenAsync(http);
        var origin = server.BaseAddress.GetLeftPart(UriPartial.Authority);

        // The page's own request passes (same origin, JSON, token).
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(ApiRequest(path, "{}", token, origin: origin, fetchSite: "same-origin"))).StatusCode);

        // What the measured attack sent: a cross-site text/plain POST (a "simple" request, no preflight).
        using var crossSite = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent("{}", Encoding.UTF8, "text/plain") };
        crossSite.Headers.Add("Origin", "https://evil.example");
        crossSite.Headers.Add("Sec-Fetch-Site", "cross-site");
        var crossSiteReply = await http.SendAsync(crossSite);
        Assert.Equal(HttpStatusCode.Forbidden, crossSiteReply.StatusCode);
        Assert.DoesNotContain("Agents", await crossSiteReply.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.Forbidden, (await http.SendAsync(ApiRequest(path, "{}", token: null))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await http.SendAsync(ApiRequest(path, "{}", token: new string('0', token.Length)))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await http.SendAsync(ApiRequest(path, "{}", token, origin: "https://evil.example"))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await http.SendAsync(ApiRequest(path, "{}", token, origin: "null"))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await http.SendAsync(ApiRequest(path, "{}", token, fetchSite: "cross-site"))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await http.SendAsync(ApiRequest(path, "{}", token, fetchSite: "same-site"))).StatusCode);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await http.SendAsync(ApiRequest(path, "{}", token, contentType: "text/plain"))).StatusCode);

        var proxied = ApiRequest(path, "{}", token);
        proxied.Headers.Add("X-Forwarded-For", "203.0.113.9");
        Assert.Equal(HttpStatusCode.Forbidden, (await http.SendAsync(proxied)).StatusCode);
    }

    /// <summary>DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1 sends Host: evil.example.</summary>
    [Fact]
    public async Task Playground_ForAForeignHostName_IsRefused()
    {
        await using var server = await ParleyTestServer.StartAsync(settings: PlaygroundOn);
        using var http = server.CreateHttpClient();
        var token = await PageTokenAsync(http);

        using var page = new HttpRequestMessage(HttpMethod.Get, "/");
        page.Headers.Host = "evil.example";
        var pageReply = await http.SendAsync(page);
        Assert.Equal(HttpStatusCode.Forbidden, pageReply.StatusCode);
        Assert.DoesNotContain(token, await pageReply.Content.ReadAsStringAsync());

        foreach (var path in new[] { "/playground/api/call/ListAgents", "/playground/api/session" })
        {
            var request = ApiRequest(path, "{}", token);
            request.Headers.Host = $"evil.example:{server.BaseAddress.Port}";
            Assert.Equal(HttpStatusCode.Forbidden, (await http.SendAsync(request)).StatusCode);
        }

        using var localhost = new HttpRequestMessage(HttpMethod.Get, "/");
        localhost.Headers.Host = $"localhost:{server.BaseAddress.Port}";
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(localhost)).StatusCode);
    }

    [Fact]
    public void IsLocal_RefusesRemoteAddresses()
    {
        var remote = new DefaultHttpContext();
        remote.Connection.RemoteIpAddress = IPAddress.Parse("192.0.2.10");
        Assert.False(PlaygroundEndpoints.IsLocal(remote));
        var local = new DefaultHttpContext();
        local.Connection.RemoteIpAddress = IPAddress.Parse("::ffff:127.0.0.1");
        Assert.True(PlaygroundEndpoints.IsLocal(local));
        local.Connection.RemoteIpAddress = IPAddress.IPv6Loopback;
        Assert.True(PlaygroundEndpoints.IsLocal(local));
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    /// <summary>The token the server embedded in the page.</summary>
    internal static async Task<string> PageTokenAsync(HttpClient http)
    {
        var html = await http.GetStringAsync("/");
        var match = System.Text.RegularExpressions.Regex.Match(html, "name=\"parley-playground-token\" content=\"([0-9a-f]{64})\"");
        Assert.True(match.Success, "the page carries no token");
        return match.Groups[1].Value;
    }

    internal static HttpRequestMessage ApiRequest(string path, string body, string? token, string contentType = "application/json", string? origin = null, string? fetchSite = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, contentType) };
        if (token is not null)
        {
            request.Headers.Add(PlaygroundEndpoints.TokenHeader, token);
        }

        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        if (fetchSite is not null)
        {
            request.Headers.Add("Sec-Fetch-Site", fetchSite);
        }

        return request;
    }

    /// <summary>
    /// Chromium opens the playground, creates an agent on the fake LLM and starts a conversation; its fake microphone says
    /// "What is the weather like today?". The page shows the transcript and the reply, and hears the agent's audio.
    /// </summary>
    [Fact]
    public async Task Playground_ConversationInChromium_ShowsTranscriptReplyAndPlaysAgentAudio()
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is missing: apt-get install -y chromium");
        var directory = Directory.CreateTempSubdirectory("parley-playground-");
        try
        {
            var wav = Path.Combine(directory.FullName, "mic.wav");
            // Leading silence: the capture starts at getUserMedia, before the agent instance exists.
            await WriteMicrophoneWavAsync([.. TestSpeech.Silence(2500), .. TestSpeech.Flite("What is the weather like today?"), .. TestSpeech.Silence(8000)], wav);

            await using var llm = await FakeLlmServer.StartAsync();
            llm.DefaultResponse = FakeLlmResponse.Reply(TimeSpan.FromMilliseconds(10), "It is", " sunny", " and warm.");
            await using var server = await ParleyTestServer.StartAsync(settings: PlaygroundOn);

            using var playwright = await Playwright.CreateAsync();
            await using var browser = await LaunchChromiumAsync(playwright, wav);
            var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1100, Height = 720 } });
            page.Console += (_, message) => output.WriteLine("browser: " + message.Text);
            page.PageError += (_, error) => output.WriteLine("page error: " + error);
            await page.GotoAsync(server.BaseAddress.ToString());

            await page.FillAsync("#agentId", "pg_agent");
            await page.FillAsync("#llmUrl", llm.Url);
            await page.FillAsync("#llmModel", "fake");
            await page.FillAsync("#systemPrompt", "You are a weather bot.");
            await page.SelectOptionAsync("#ttsVoice", "flite:kal16");
            await page.ClickAsync("#createAgent");
            await page.WaitForFunctionAsync("() => document.getElementById('agentSelect').value === 'pg_agent'", null, new PageWaitForFunctionOptions { Timeout = 15000 });

            await page.ClickAsync("#start");
            await page.WaitForFunctionAsync("() => !document.getElementById('stop').disabled", null, new PageWaitForFunctionOptions { Timeout = 15000 });
            var started = Stopwatch.StartNew();

            var userLine = await page.WaitForFunctionAsync(
                "() => [...document.querySelectorAll('.line.user span')].map(s => s.textContent).find(t => t.includes('weather'))",
                null, new PageWaitForFunctionOptions { Timeout = 40000 });
            output.WriteLine($"user transcript after {started.ElapsedMilliseconds} ms: {await userLine.JsonValueAsync<string>()}");

            await page.WaitForFunctionAsync(
                "() => [...document.querySelectorAll('.line.agent span')].some(s => s.textContent === 'It is sunny and warm.')",
                null, new PageWaitForFunctionOptions { Timeout = 30000 });
            await page.WaitForFunctionAsync("() => window.playground.maxAgentRms > 0.02", null, new PageWaitForFunctionOptions { Timeout = 20000 });
            var rms = await page.EvaluateAsync<double>("() => window.playground.maxAgentRms");
            var latency = await page.InnerTextAsync("#latency");
            output.WriteLine($"agent audio max rms {rms:0.000}; {latency}");
            Assert.True(rms > 0.02);

            // docs/playground.png is refreshed only on request (PARLEY_UPDATE_SCREENSHOTS=1), so test runs leave the tree clean.
            var screenshot = Environment.GetEnvironmentVariable("PARLEY_UPDATE_SCREENSHOTS") == "1"
                ? Path.Combine(RepositoryRoot(), "docs", "playground.png")
                : Path.Combine(directory.FullName, "playground.png");
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot });
            Assert.True(new FileInfo(screenshot).Length > 10_000, "the screenshot is empty");

            await page.ClickAsync("#stop");
            await page.WaitForFunctionAsync("() => document.getElementById('status').textContent === 'idle' && !document.getElementById('start').disabled", null, new PageWaitForFunctionOptions { Timeout = 10000 });
        }
        finally
        {
            directory.Delete(true);
        }
    }

    /// <summary>
    /// The README's first run: the server on its development app (no Parley:Apps), the playground opened as it comes,
    /// "Start conversation" pressed without filling anything in. The agent is created on the built-in demo LLM and
    /// answers by voice; no LLM server exists.
    /// </summary>
    [Fact]
    public async Task Playground_FirstRunOnTheDevelopmentApp_AnswersWithTheDemoLlm()
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is missing: apt-get install -y chromium");
        var directory = Directory.CreateTempSubdirectory("parley-playground-");
        try
        {
            var wav = Path.Combine(directory.FullName, "mic.wav");
            await WriteMicrophoneWavAsync([.. TestSpeech.Silence(2500), .. TestSpeech.Flite("What is the weather like today?"), .. TestSpeech.Silence(10000)], wav);
            await using var server = await ParleyTestServer.StartAsync(apps: [], settings: new Dictionary<string, string?> { ["Parley:RateLimitPerSecond"] = "100" });

            using var playwright = await Playwright.CreateAsync();
            await using var browser = await LaunchChromiumAsync(playwright, wav);
            var page = await browser.NewPageAsync();
            page.Console += (_, message) => output.WriteLine("browser: " + message.Text);
            await page.GotoAsync(server.BaseAddress.ToString());
            await page.ClickAsync("#start");
            await page.WaitForFunctionAsync("() => !document.getElementById('stop').disabled", null, new PageWaitForFunctionOptions { Timeout = 15000 });

            var reply = await page.WaitForFunctionAsync(
                "() => [...document.querySelectorAll('.line.agent span')].map(s => s.textContent).find(t => /It is \\d\\d:\\d\\d\\.$/.test(t))",
                null, new PageWaitForFunctionOptions { Timeout = 60000 });
            var text = await reply.JsonValueAsync<string>();
            output.WriteLine("agent: " + text);
            Assert.StartsWith("Demo LLM (no language model configured): I heard: ", text);
            Assert.Contains("weather", text);
            await page.WaitForFunctionAsync("() => window.playground.maxAgentRms > 0.02", null, new PageWaitForFunctionOptions { Timeout = 20000 });
            await page.ClickAsync("#stop");
        }
        finally
        {
            directory.Delete(true);
        }
    }

    /// <summary>
    /// Talking over the agent through the page: the fake microphone asks a question, then speaks again while the agent
    /// is in the middle of a long answer. The page sees the agent go from speaking to listening, the second utterance is
    /// transcribed, and the context keeps only the part of the long answer that was played.
    /// </summary>
    [Fact]
    public async Task Playground_TalkingOverTheAgent_InterruptsIt()
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is missing: apt-get install -y chromium");
        var directory = Directory.CreateTempSubdirectory("parley-playground-");
        try
        {
            var wav = Path.Combine(directory.FullName, "mic.wav");
            await WriteMicrophoneWavAsync(
                [.. TestSpeech.Silence(2500), .. TestSpeech.Flite("What is the weather like today?"), .. TestSpeech.Silence(4500),
                 .. TestSpeech.Flite("Stop please. What time is it?"), .. TestSpeech.Silence(20000)],
                wav);

            const string longReply = "The weather today is sunny with a light breeze from the west. In the afternoon a few clouds will gather over the hills. Later in the evening it will be cool, so bring a warm jacket if you go out. Tomorrow looks much the same.";
            await using var llm = await FakeLlmServer.StartAsync();
            llm.DefaultResponse = FakeLlmResponse.Reply(TimeSpan.FromMilliseconds(5), longReply.Split(' ').Select((w, i) => i == 0 ? w : " " + w).ToArray());
            await using var server = await ParleyTestServer.StartAsync(settings: PlaygroundOn);

            using var playwright = await Playwright.CreateAsync();
            await using var browser = await LaunchChromiumAsync(playwright, wav);
            var page = await browser.NewPageAsync();
            page.Console += (_, message) => output.WriteLine("browser: " + message.Text);
            await page.GotoAsync(server.BaseAddress.ToString());
            await page.FillAsync("#agentId", "pg_barge");
            await page.FillAsync("#llmUrl", llm.Url);
            await page.FillAsync("#llmModel", "fake");
            await page.SelectOptionAsync("#ttsVoice", "flite:kal16");
            await page.ClickAsync("#createAgent");
            await page.WaitForFunctionAsync("() => document.getElementById('agentSelect').value === 'pg_barge'", null, new PageWaitForFunctionOptions { Timeout = 15000 });
            await page.ClickAsync("#start");
            await page.WaitForFunctionAsync("() => !document.getElementById('stop').disabled", null, new PageWaitForFunctionOptions { Timeout = 15000 });

            // Watch the agent's status as the page shows it: it must go from speaking to listening (interrupted by the user).
            var statuses = new List<string>();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (DateTime.UtcNow < deadline)
            {
                var status = await page.InnerTextAsync("#status");
                if (statuses.Count == 0 || statuses[^1] != status)
                {
                    statuses.Add(status);
                }

                // The barge-in is judged (duration and words), so the transcript of "Stop please" may show before the
                // agent stops: wait for the status to follow it.
                var second = await page.EvaluateAsync<bool>("() => [...document.querySelectorAll('.line.user span')].some(s => /time|stop/.test(s.textContent))");
                var spoke = statuses.IndexOf("speaking");
                if (second && spoke >= 0 && statuses.Skip(spoke + 1).Contains("listening"))
                {
                    break;
                }

                await Task.Delay(50);
            }

            output.WriteLine("statuses: " + string.Join(" → ", statuses));
            var speaking = statuses.IndexOf("speaking");
            Assert.True(speaking >= 0, "the agent never spoke: " + string.Join(" → ", statuses));
            Assert.Contains("listening", statuses.Skip(speaking + 1));

            // The context: the question, the part of the long answer that was played, then the interruption.
            var instanceId = await page.EvaluateAsync<string>("() => window.playground.instanceId");
            var api = server.CreateClient();
            IReadOnlyList<Parley.Client.ChatMessage> context = [];
            for (var i = 0; i < 60 && context.Count < 3; i++)
            {
                context = (await api.GetAgentInstanceMsgListAsync(instanceId)).Data?.MessageList ?? [];
                await Task.Delay(250);
            }

            output.WriteLine(string.Join(" | ", context.Select(m => $"{m.Role}: {m.Content}")));
            Assert.True(context.Count >= 3, "context: " + string.Join(" | ", context.Select(m => $"{m.Role}: {m.Content}")));
            Assert.Equal("user", context[0].Role);
            Assert.Contains("weather", context[0].Content);
            Assert.Equal("assistant", context[1].Role);
            Assert.True(context[1].Content.Length < longReply.Length, "the interrupted answer was kept whole");
            Assert.Equal("user", context[2].Role);
        }
        finally
        {
            directory.Delete(true);
        }
    }

    /// <summary>Headless Debian Chromium whose fake microphone plays <paramref name="wav"/>, with WebRTC kept on loopback.</summary>
    private static Task<IBrowser> LaunchChromiumAsync(IPlaywright playwright, string wav) =>
        playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args =
            [
                "--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                $"--use-file-for-fake-audio-capture={wav}", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-gpu", "--disable-quic", "--autoplay-policy=no-user-gesture-required",
                "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
            ],
        });

    /// <summary>Chromium's fake capture reads the WAV; written at 16 kHz and resampled to 48 kHz with sox.</summary>
    private static async Task WriteMicrophoneWavAsync(short[] samples16k, string path)
    {
        var raw = path + ".16k.wav";
        await using (var file = File.Create(raw))
        await using (var writer = new BinaryWriter(file))
        {
            writer.Write("RIFF"u8);
            writer.Write(36 + (samples16k.Length * 2));
            writer.Write("WAVEfmt "u8);
            writer.Write(16);
            writer.Write((short)1);
            writer.Write((short)1);
            writer.Write(16000);
            writer.Write(32000);
            writer.Write((short)2);
            writer.Write((short)16);
            writer.Write("data"u8);
            writer.Write(samples16k.Length * 2);
            foreach (var s in samples16k)
            {
                writer.Write(s);
            }
        }

        var info = new ProcessStartInfo("sox") { RedirectStandardError = true };
        foreach (var arg in new[] { raw, "-r", "48000", "-c", "1", "-b", "16", path })
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, "sox failed: " + stderr);
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Parley.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Parley.slnx not found above " + AppContext.BaseDirectory);
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BrowserCollection
{
    public const string Name = "Browser (Chromium, not parallel)";
}
