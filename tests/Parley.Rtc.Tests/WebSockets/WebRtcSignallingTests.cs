using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.AspNetCore.Http;
using Microsoft.Playwright;
using Parley.Abstractions.Audio;
using Parley.Rtc.Rooms;
using Parley.Rtc.Tests.WebRtc;
using Parley.Rtc.WebSockets;
using Xunit.Abstractions;

namespace Parley.Rtc.Tests.WebSockets;

/// <summary>WebRTC media negotiated over the room WebSocket: <c>WebRtcOffer</c> → <c>WebRtcAnswer</c>.</summary>
/// <remarks>Not in parallel with other tests: Chromium must not run beside the real-time pacing tests on two cores.</remarks>
[Collection(WebRtcSignallingCollection.Name)]
public sealed class WebRtcSignallingTests(ITestOutputHelper output)
{
    private const string ChromiumPath = "/usr/bin/chromium";

    private static readonly string OfferSdp = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "WebRtc", "chrome156-offer.sdp"));

    [Fact]
    public async Task WebRtcOffer_BeforeLogin_IsRefusedWithNotLoggedIn()
    {
        await using var server = await RtcTestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.SendJsonAsync(new { Type = "WebRtcOffer", Sdp = OfferSdp, PublishStreamId = "mic" });
        var error = await client.ExpectAsync("Error");
        Assert.Equal(RtcCodes.NotLoggedIn, error.GetProperty("Code").GetInt32());
    }

    [Theory]
    [InlineData("not sdp at all", "mic", null, RtcCodes.BadSdp)]
    [InlineData("", "mic", null, RtcCodes.BadSdp)]
    [InlineData("OFFER", null, null, RtcCodes.BadMessage)]
    [InlineData("OFFER", "bad stream id!", null, RtcCodes.InvalidId)]
    [InlineData("OFFER", null, "bad stream id!", RtcCodes.InvalidId)]
    [InlineData("OFFER", "other_stream", null, RtcCodes.StreamNotAllowed)]
    public async Task WebRtcOffer_Refused_ReturnsCodeAndConnectionStaysUsable(string sdp, string? publish, string? play, int expectedCode)
    {
        await using var server = await RtcTestServer.StartAsync();
        await using var client = await server.ConnectAsync();

        // The token only allows publishing "mic" (stream-id privilege list).
        var token = Parley.Rtc.Tokens.Token04.Mint(
            RtcTestServer.AppId, "user_1", RtcTestServer.Secret, TimeSpan.FromHours(1),
            Parley.Rtc.Tokens.Token04.BuildPayload("room1", true, true, ["mic"]), TimeProvider.System);
        await client.SendJsonAsync(new { Type = "Login", Token = token, RoomId = "room1", UserId = "user_1", RtcTestServer.AppId });
        Assert.Equal(0, (await client.ExpectAsync("LoginResult")).GetProperty("Code").GetInt32());

        await client.SendJsonAsync(new { Type = "WebRtcOffer", Sdp = sdp == "OFFER" ? OfferSdp : sdp, PublishStreamId = publish, PlayStreamId = play });
        var answer = await client.ExpectAsync("WebRtcAnswer");
        output.WriteLine(answer.ToString());
        Assert.Equal(expectedCode, answer.GetProperty("Code").GetInt32());
        Assert.False(string.IsNullOrEmpty(answer.GetProperty("Message").GetString()));
        Assert.False(answer.TryGetProperty("Sdp", out _));

        await client.SendJsonAsync(new { Type = "Ping" });
        await client.ExpectAsync("Pong");
        Assert.Empty(server.Rooms.GetStreams(RoomIds.Scoped(RtcTestServer.AppId, "room1")));
    }

    [Fact]
    public async Task WebRtcOffer_CountsAsTheConnectionsPublishAndPlay()
    {
        await using var server = await RtcTestServer.StartAsync();
        await using var client = await server.LoginAsync("room1", "user_1");
        await client.SendJsonAsync(new { Type = "WebRtcOffer", Sdp = OfferSdp, PublishStreamId = "mic", PlayStreamId = "agent_out" });
        var answer = await client.ExpectAsync("WebRtcAnswer");
        Assert.Equal(0, answer.GetProperty("Code").GetInt32());
        Assert.Contains("a=fingerprint:sha-256", answer.GetProperty("Sdp").GetString());
        Assert.Contains("a=candidate:", answer.GetProperty("Sdp").GetString());
        Assert.Contains(server.Rooms.GetStreams(RoomIds.Scoped(RtcTestServer.AppId, "room1")), s => s.StreamId == "mic");

        await client.SendJsonAsync(new { Type = "Publish", StreamId = "mic2" });
        Assert.Equal(RtcCodes.AlreadyPublishing, (await client.ExpectAsync("PublishResult")).GetProperty("Code").GetInt32());
        await client.SendJsonAsync(new { Type = "Play", StreamId = "other" });
        Assert.Equal(RtcCodes.AlreadyPlaying, (await client.ExpectAsync("PlayResult")).GetProperty("Code").GetInt32());
        await client.SendJsonAsync(new { Type = "WebRtcOffer", Sdp = OfferSdp, PlayStreamId = "x" });
        Assert.Equal(RtcCodes.WebRtcAlreadyActive, (await client.ExpectAsync("WebRtcAnswer")).GetProperty("Code").GetInt32());

        // Closing the WebSocket ends the peer and removes its stream.
        await client.Socket.CloseOutputAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        await client.Closed.Task.WaitAsync(TimeSpan.FromSeconds(5));
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (server.Rooms.GetStreams(RoomIds.Scoped(RtcTestServer.AppId, "room1")).Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Empty(server.Rooms.GetStreams(RoomIds.Scoped(RtcTestServer.AppId, "room1")));
    }

    [Fact]
    public async Task WebRtcPeer_ThatNeverConnects_IsLoggedAsAWarning_NamingTheConnection_AndEndsTheWebSocket()
    {
        var logs = new RecordingLogs();
        await using var server = await RtcTestServer.StartAsync(o => o.WebRtc.ConnectTimeout = TimeSpan.FromMilliseconds(300), logs: logs);
        await using var client = await server.LoginAsync("room1", "user_1");
        await client.SendJsonAsync(new { Type = "WebRtcOffer", Sdp = OfferSdp, PublishStreamId = "mic" });
        var answer = await client.ExpectAsync("WebRtcAnswer");
        Assert.Equal(0, answer.GetProperty("Code").GetInt32());

        // No browser answers ICE: the peer gives up after the connect timeout, which ends the room connection.
        await client.Closed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var failed = Assert.Single(logs.Entries, e => e.Category == typeof(Parley.Rtc.WebRtc.WebRtcPeer).FullName && e.Level == Microsoft.Extensions.Logging.LogLevel.Warning);
        Assert.Contains("not connected within", failed.Message, StringComparison.Ordinal);
        Assert.Contains("ConnectionId", failed.Scope, StringComparison.Ordinal);
        var icePwd = answer.GetProperty("Sdp").GetString()!.Split("\r\n").Single(l => l.StartsWith("a=ice-pwd:", StringComparison.Ordinal))["a=ice-pwd:".Length..];
        Assert.DoesNotContain(logs.Entries, e => e.Message.Contains(icePwd, StringComparison.Ordinal));
    }

    [Fact]
    public void WebRtcSettings_CandidateAddresses_AreParsedAndValidated()
    {
        var settings = new Parley.Rtc.WebRtc.WebRtcSettings();
        Assert.Equal([System.Net.IPAddress.Loopback], settings.ToPeerOptions().CandidateAddresses);
        settings.CandidateAddresses.AddRange(["192.0.2.7", "127.0.0.1"]);
        Assert.Equal([System.Net.IPAddress.Parse("192.0.2.7"), System.Net.IPAddress.Loopback], settings.ToPeerOptions().CandidateAddresses);
        settings.CandidateAddresses.Add("example.com");
        var error = Assert.Throws<FormatException>(() => settings.ToPeerOptions());
        Assert.Contains("CandidateAddresses", error.Message);
    }

    [Fact]
    public void WebRtcSettings_BindFromParleyRtcWebRtcSection()
    {
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Parley:Rtc:WebRtc:CandidateAddresses:0"] = "198.51.100.4",
                ["Parley:Rtc:WebRtc:ConnectTimeout"] = "00:00:05",
            })
            .Build();
        var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection().AddParleyRtc(configuration);
        using var provider = Microsoft.Extensions.DependencyInjection.ServiceCollectionContainerBuilderExtensions.BuildServiceProvider(services);
        var options = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions
            .GetRequiredService<Microsoft.Extensions.Options.IOptions<ParleyRtcOptions>>(provider).Value.WebRtc.ToPeerOptions();
        Assert.Equal([System.Net.IPAddress.Parse("198.51.100.4")], options.CandidateAddresses);
        Assert.Equal(TimeSpan.FromSeconds(5), options.ConnectTimeout);
    }

    private const string Page = """
        <!doctype html><html><body><script>
        window.runCall = async ([wsUrl, token, durationMs]) => {
          const ws = new WebSocket(wsUrl);
          const messages = [];
          const waiters = [];
          ws.onmessage = e => { const m = JSON.parse(e.data); messages.push(m); waiters.forEach(w => w(m)); };
          const expect = type => new Promise((resolve, reject) => {
            const found = messages.find(m => m.Type === type); if (found) return resolve(found);
            const t = setTimeout(() => reject(new Error('no ' + type)), 10000);
            waiters.push(m => { if (m.Type === type) { clearTimeout(t); resolve(m); } });
          });
          await new Promise(r => ws.onopen = r);
          ws.send(JSON.stringify({ Type: 'Login', AppId: 1234, RoomId: 'room1', UserId: 'browser_1', Token: token }));
          const login = await expect('LoginResult');
          if (login.Code !== 0) throw new Error('login: ' + login.Message);
          const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
          const pc = new RTCPeerConnection();
          for (const track of stream.getTracks()) pc.addTrack(track, stream);
          const gotTrack = new Promise(resolve => pc.ontrack = e => resolve(e.streams[0] || new MediaStream([e.track])));
          await pc.setLocalDescription(await pc.createOffer());
          ws.send(JSON.stringify({ Type: 'WebRtcOffer', Sdp: pc.localDescription.sdp, PublishStreamId: 'mic', PlayStreamId: 'echo' }));
          const answer = await expect('WebRtcAnswer');
          if (answer.Code !== 0) throw new Error('answer: ' + answer.Message);
          await pc.setRemoteDescription({ type: 'answer', sdp: answer.Sdp });
          const remote = await gotTrack;
          const audio = new Audio(); audio.srcObject = remote; audio.play().catch(() => {});
          const ctx = new AudioContext(); await ctx.resume();
          const analyser = ctx.createAnalyser(); analyser.fftSize = 2048;
          ctx.createMediaStreamSource(remote).connect(analyser);
          const data = new Float32Array(analyser.fftSize);
          let maxRms = 0, loudFrames = 0;
          const started = performance.now();
          while (performance.now() - started < durationMs) {
            await new Promise(r => setTimeout(r, 50));
            analyser.getFloatTimeDomainData(data);
            let sum = 0; for (const v of data) sum += v * v;
            const rms = Math.sqrt(sum / data.length);
            if (rms > maxRms) maxRms = rms;
            if (rms > 0.01) loudFrames++;
          }
          const result = { maxRms, loudFrames, connectionState: pc.connectionState, roomMessages: messages.filter(m => m.Type === 'RoomMessage').length };
          ws.close();
          await new Promise(r => setTimeout(r, 500));
          result.connectionStateAfterClose = pc.connectionState;
          pc.close();
          return result;
        };
        </script></body></html>
        """;

    /// <summary>
    /// Chromium logs in on the room WebSocket, negotiates WebRTC over it, publishes its (flite-spoken) fake microphone and
    /// plays an in-process participant's stream, which echoes what it hears; room messages keep arriving on the WebSocket.
    /// </summary>
    [Fact]
    [Trait("Category", "Browser")]
    public async Task Chromium_NegotiatesOverRoomWebSocket_PublishesMicrophoneAndPlaysStream()
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is missing: apt-get install -y chromium");
        var directory = Directory.CreateTempSubdirectory("parley-webrtc-ws-");
        try
        {
            var wav = Path.Combine(directory.FullName, "speech.wav");
            await BrowserWebRtcTests.SpeakAsync("What is the weather like today? I would like to know if it will rain.", wav);
            await using var server = await RtcTestServer.StartAsync(map: app => app.MapGet("/", () => Results.Content(Page, "text/html")));
            await using var agent = await server.Rooms.JoinAsync(RoomIds.Scoped(RtcTestServer.AppId, "room1"), "agent_1", isAgent: true, CancellationToken.None);
            await using var mic = await agent.PlayAsync("mic", CancellationToken.None);
            var echoOut = await agent.PublishAsync("echo", CancellationToken.None);
            var heard = new List<short>();
            var messageSent = false;
            using var stop = new CancellationTokenSource();
            var echo = Task.Run(async () =>
            {
                try
                {
                    while (await mic.Audio.WaitToReadAsync(stop.Token))
                    {
                        while (mic.Audio.TryRead(out var chunk))
                        {
                            lock (heard)
                            {
                                heard.AddRange(chunk.Samples);
                            }

                            if (!messageSent && heard.Count > 16000)
                            {
                                // Media is flowing: a room message still arrives on the WebSocket.
                                messageSent = true;
                                await agent.SendRoomMessageAsync(4, 1, new System.Text.Json.Nodes.JsonObject { ["Text"] = "hello" }, null, CancellationToken.None);
                            }

                            await echoOut.WriteAsync(chunk, stop.Token);
                        }
                    }
                }
                catch (OperationCanceledException)
                {
                }
            });


            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
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
            var page = await browser.NewPageAsync();
            page.Console += (_, message) => output.WriteLine("browser: " + message.Text);
            var httpUrl = server.Uri.ToString().Replace("ws://", "http://").Replace("/rtc/ws", "/");
            await page.GotoAsync(httpUrl);
            var result = await page.EvaluateAsync<JsonElement>(
                "a => window.runCall(a)", new object[] { server.Uri.ToString(), RtcTestServer.TokenFor("browser_1", "room1"), 5000 });
            output.WriteLine("browser result: " + result);

            Assert.Equal("connected", result.GetProperty("connectionState").GetString());
            Assert.Equal(1, result.GetProperty("roomMessages").GetInt32());

            // The server side heard the microphone.
            short[] audio;
            lock (heard)
            {
                audio = heard.ToArray();
            }

            var rms = audio.Length == 0 ? 0 : Math.Sqrt(audio.Average(s => (double)s * s));
            output.WriteLine($"agent heard {audio.Length / 16000.0:0.00} s, rms {rms:0}");
            Assert.True(audio.Length > 16000 * 2, $"the agent heard only {audio.Length} samples");
            Assert.True(rms > 300, $"the microphone audio is too quiet (rms {rms:0})");

            // The browser heard the echoed stream.
            Assert.True(result.GetProperty("maxRms").GetDouble() > 0.02, $"the browser heard silence (max rms {result.GetProperty("maxRms")})");
            Assert.True(result.GetProperty("loudFrames").GetInt32() > 5, "the browser heard almost no loud audio");

            // Closing the WebSocket ended the peer: the browser's stream left the room.
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (server.Rooms.GetStreams(RoomIds.Scoped(RtcTestServer.AppId, "room1")).Any(s => s.StreamId == "mic") && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }

            Assert.DoesNotContain(server.Rooms.GetStreams(RoomIds.Scoped(RtcTestServer.AppId, "room1")), s => s.StreamId == "mic");
            await stop.CancelAsync();
            await echo;
            await echoOut.DisposeAsync();
        }
        finally
        {
            directory.Delete(true);
        }
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class WebRtcSignallingCollection
{
    public const string Name = "WebRTC signalling (Chromium, not parallel)";
}

/// <summary>Keeps every log entry with the scopes it was written in.</summary>
internal sealed class RecordingLogs : Microsoft.Extensions.Logging.ILoggerProvider, Microsoft.Extensions.Logging.ISupportExternalScope
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<(string Category, Microsoft.Extensions.Logging.LogLevel Level, string Message, string Scope)> _entries = new();
    private Microsoft.Extensions.Logging.IExternalScopeProvider _scopes = new Microsoft.Extensions.Logging.LoggerExternalScopeProvider();

    public IReadOnlyCollection<(string Category, Microsoft.Extensions.Logging.LogLevel Level, string Message, string Scope)> Entries => _entries;

    public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void SetScopeProvider(Microsoft.Extensions.Logging.IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose()
    {
    }

    private sealed class Logger(RecordingLogs owner, string category) : Microsoft.Extensions.Logging.ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => owner._scopes.Push(state);

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var scope = new System.Text.StringBuilder();
            owner._scopes.ForEachScope(static (s, b) => b.Append(s is IEnumerable<KeyValuePair<string, object>> pairs ? string.Join(",", pairs.Select(p => $"{p.Key}={p.Value}")) : s).Append(';'), scope);
            owner._entries.Enqueue((category, logLevel, formatter(state, exception), scope.ToString()));
        }
    }
}
