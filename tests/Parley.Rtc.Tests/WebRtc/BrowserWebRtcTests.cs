using System.Net;
using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using Parley.Abstractions.Audio;
using Parley.Rtc.WebRtc;
using Xunit.Abstractions;

namespace Parley.Rtc.Tests.WebRtc;

/// <summary>
/// A real Chromium (Debian's /usr/bin/chromium, driven by Playwright) publishes a flite-spoken fake microphone over WebRTC
/// to a <see cref="WebRtcPeer"/> behind a WHIP-style POST /offer endpoint; the server echoes what it hears back and the page
/// measures the level of what it receives.
/// </summary>
[Trait("Category", "Browser")]
public sealed class BrowserWebRtcTests(ITestOutputHelper output)
{
    private const string ChromiumPath = "/usr/bin/chromium";

    private const string Page = """
        <!doctype html><html><body><audio id="out" autoplay></audio><script>
        window.runCall = async ([durationMs, withVideoAndData]) => {
          const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
          const pc = new RTCPeerConnection();
          for (const track of stream.getTracks()) pc.addTrack(track, stream);
          if (withVideoAndData) { pc.addTransceiver('video', { direction: 'recvonly' }); pc.createDataChannel('chat'); }
          const gotTrack = new Promise(resolve => pc.ontrack = e => resolve(e.streams[0] || new MediaStream([e.track])));
          await pc.setLocalDescription(await pc.createOffer());
          const response = await fetch('/offer', { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp });
          if (!response.ok) throw new Error('offer rejected: ' + response.status + ' ' + await response.text());
          await pc.setRemoteDescription({ type: 'answer', sdp: await response.text() });
          const remote = await gotTrack;
          document.getElementById('out').srcObject = remote;
          const ctx = new AudioContext();
          await ctx.resume();
          const analyser = ctx.createAnalyser();
          analyser.fftSize = 2048;
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
          const result = { maxRms, loudFrames, iceState: pc.iceConnectionState, connectionState: pc.connectionState, offer: pc.localDescription.sdp };
          (await pc.getStats()).forEach(s => {
            if (s.type === 'inbound-rtp' && s.kind === 'audio') {
              result.inPackets = s.packetsReceived; result.inLost = s.packetsLost; result.inEnergy = s.totalAudioEnergy || 0;
              result.inSamplesDuration = s.totalSamplesDuration || 0;
            }
            if (s.type === 'outbound-rtp' && s.kind === 'audio') result.outPackets = s.packetsSent;
          });
          pc.close();
          return result;
        };
        </script></body></html>
        """;

    [Fact]
    public Task Chromium_PublishesMicrophoneAndPlaysEchoedAudio_OverWebRtc() => RunCallAsync(6000, false);

    /// <summary>The answer rejects the video and data-channel sections (port 0) and Chrome still connects the audio.</summary>
    [Fact]
    public Task Chromium_OfferWithVideoAndDataChannel_ConnectsAudioOnly() => RunCallAsync(3500, true);

    private async Task RunCallAsync(int durationMs, bool withVideoAndData)
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is missing: apt-get install -y chromium");
        var directory = Directory.CreateTempSubdirectory("parley-webrtc-");
        try
        {
            var wav = Path.Combine(directory.FullName, "speech.wav");
            await SpeakAsync("What is the weather like today? I would like to know if it will rain.", wav);

            var peers = new List<WebRtcPeer>();
            var received = new List<short>();
            var echoTasks = new List<Task>();
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(new XunitLoggerProvider(output));
            builder.Logging.SetMinimumLevel(LogLevel.Debug);
            await using var app = builder.Build();
            app.MapGet("/", () => Results.Content(Page, "text/html"));
            app.MapPost("/offer", async (HttpRequest request, ILoggerFactory loggers, CancellationToken ct) =>
            {
                using var reader = new StreamReader(request.Body);
                var offer = await reader.ReadToEndAsync(ct);
                var peer = new WebRtcPeer(new WebRtcOptions(), loggers.CreateLogger<WebRtcPeer>());
                string answer;
                try
                {
                    answer = await peer.CreateAnswerAsync(offer, ct);
                }
                catch (SdpException ex)
                {
                    await peer.DisposeAsync();
                    return Results.BadRequest(ex.Message);
                }

                lock (peers)
                {
                    peers.Add(peer);
                    echoTasks.Add(EchoAsync(peer, received));
                }

                output.WriteLine("ANSWER:\n" + answer);
                return Results.Text(answer, "application/sdp", statusCode: 201);
            });
            await app.StartAsync();
            var url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

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

                    // Keep WebRTC on loopback: offer 127.0.0.1 host candidates (no mDNS names, no other interface).
                    "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
                    .. (Environment.GetEnvironmentVariable("PARLEY_CHROMIUM_ARGS")?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? []),
                ],
            });
            var page = await browser.NewPageAsync();
            page.Console += (_, message) => output.WriteLine("browser: " + message.Text);
            await page.GotoAsync(url);
            var result = await page.EvaluateAsync<JsonElement>("a => window.runCall(a)", new object[] { durationMs, withVideoAndData });
            output.WriteLine("browser result: " + result.ToString());

            WebRtcPeer peer;
            lock (peers)
            {
                peer = Assert.Single(peers);
            }

            Assert.True(peer.RemoteEndPoint is null || IPAddress.IsLoopback(peer.RemoteEndPoint.Address), $"media went to {peer.RemoteEndPoint}, not loopback");
            var closed = await peer.Closed.WaitAsync(TimeSpan.FromSeconds(10));
            output.WriteLine($"peer closed: {closed}; packets received {peer.PacketsReceived}, sent {peer.PacketsSent}, concealed {peer.PacketsConcealed}");
            await Task.WhenAll(echoTasks).WaitAsync(TimeSpan.FromSeconds(10));

            Assert.Equal("connected", result.GetProperty("connectionState").GetString());
            Assert.True(peer.Connected.IsCompletedSuccessfully);

            // Server side: the browser's microphone (flite speech) arrived as non-silent 16 kHz audio of plausible length.
            short[] audio;
            lock (received)
            {
                audio = received.ToArray();
            }

            var seconds = audio.Length / 16000.0;
            var rms = Rms(audio);
            var peak = audio.Length == 0 ? 0 : audio.Max(s => Math.Abs((int)s));
            output.WriteLine($"server received {seconds:0.00} s, rms {rms:0}, peak {peak}");
            Assert.InRange(seconds, (durationMs / 1000.0) - 2.5, (durationMs / 1000.0) + 2);
            Assert.True(rms > 300, $"received audio rms {rms:0} is too quiet: the microphone audio did not arrive intact");
            Assert.True(peak > 3000, $"received audio peak {peak} is too low");

            // Browser side: it received RTP from the server and heard non-silent (echoed) audio.
            Assert.True(result.GetProperty("inPackets").GetInt32() > (durationMs / 20) - 125, "the browser received too few RTP packets");
            Assert.True(result.GetProperty("maxRms").GetDouble() > 0.02, $"the browser heard silence (max rms {result.GetProperty("maxRms")})");
            Assert.True(result.GetProperty("loudFrames").GetInt32() > 5, "the browser heard almost no loud audio");
            Assert.Equal(0, peer.PacketsConcealed);
        }
        finally
        {
            directory.Delete(true);
        }
    }

    private static async Task EchoAsync(WebRtcPeer peer, List<short> received)
    {
        await using (peer)
        {
            try
            {
                await foreach (var chunk in peer.ReceivedAudio.ReadAllAsync())
                {
                    using (chunk)
                    {
                        lock (received)
                        {
                            received.AddRange(chunk.Samples);
                        }

                        await peer.SendAsync(chunk.Memory, CancellationToken.None);
                    }
                }
            }
            catch (ChannelClosedException)
            {
            }
        }
    }

    private static double Rms(ReadOnlySpan<short> samples)
    {
        if (samples.IsEmpty)
        {
            return 0;
        }

        double sum = 0;
        foreach (var s in samples)
        {
            sum += (double)s * s;
        }

        return Math.Sqrt(sum / samples.Length);
    }

    internal static async Task SpeakAsync(string text, string wavPath)
    {
        var raw = wavPath + ".raw.wav";
        await RunAsync("flite", ["-voice", "kal16", "-t", text, "-o", raw]);
        await RunAsync("sox", [raw, "-r", "48000", "-c", "1", "-b", "16", wavPath]);
        File.Delete(raw);
    }

    private static async Task RunAsync(string file, string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{file} did not start");
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{file} failed ({process.ExitCode}): {stderr}");
    }
}

internal sealed class XunitLoggerProvider(ITestOutputHelper output) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new XunitLogger(output, categoryName);

    public void Dispose()
    {
    }

    private sealed class XunitLogger(ITestOutputHelper output, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => category.StartsWith("Parley", StringComparison.Ordinal);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            try
            {
                output.WriteLine($"[{logLevel}] {formatter(state, exception)}{(exception is null ? string.Empty : " " + exception)}");
            }
            catch (InvalidOperationException)
            {
                // The test already finished.
            }
        }
    }
}
