using System.Diagnostics;
using System.Net.WebSockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Parley.Rtc.Rooms;
using Parley.Rtc.Tokens;

namespace Parley.Rtc.Tests.WebSockets;

/// <summary>A real Kestrel host on 127.0.0.1, port 0, with AddParleyRtc/MapParleyRtc.</summary>
internal sealed class RtcTestServer : IAsyncDisposable
{
    public const uint AppId = 1234;
    public const string Secret = "0123456789abcdef0123456789abcdef";

    private readonly WebApplication _app;

    private RtcTestServer(WebApplication app, Uri uri)
    {
        _app = app;
        Uri = uri;
    }

    public Uri Uri { get; }

    public IServiceProvider Services => _app.Services;

    public IRoomManager Rooms => _app.Services.GetRequiredService<IRoomManager>();

    public static async Task<RtcTestServer> StartAsync(Action<ParleyRtcOptions>? configure = null, Action<WebApplication>? map = null, ILoggerProvider? logs = null)
    {
        // As the Parley server does: real-time pacing must not wait for the thread pool to grow on a busy 2-core machine.
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 32), Math.Max(io, 32));
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        if (logs is not null)
        {
            builder.Logging.AddProvider(logs);
            builder.Logging.SetMinimumLevel(LogLevel.Debug);
        }

        builder.Services.AddSingleton<IRoomAppDirectory>(new StaticRoomAppDirectory(new Dictionary<uint, string> { [AppId] = Secret }));
        builder.Services.AddParleyRtc(builder.Configuration);
        if (configure is not null)
        {
            builder.Services.PostConfigure(configure);
        }

        var app = builder.Build();
        app.MapParleyRtc();
        map?.Invoke(app);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var uri = new Uri(address.Replace("http://", "ws://") + "/rtc/ws");
        return new RtcTestServer(app, uri);
    }

    public static string TokenFor(string userId, string? roomId = null, bool canPublish = true) =>
        Token04.Mint(AppId, userId, Secret, TimeSpan.FromHours(1), roomId is null ? "" : Token04.BuildPayload(roomId, true, canPublish), TimeProvider.System);

    public async Task<TestClient> ConnectAsync()
    {
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(Uri, CancellationToken.None);
        return new TestClient(socket);
    }

    /// <summary>Connects and logs in; asserts LoginResult Code 0.</summary>
    public async Task<TestClient> LoginAsync(string roomId, string userId)
    {
        var client = await ConnectAsync();
        await client.SendJsonAsync(new { Type = "Login", Token = TokenFor(userId, roomId), RoomId = roomId, UserId = userId, AppId });
        var result = await client.ExpectAsync("LoginResult");
        Assert.Equal(0, result.GetProperty("Code").GetInt32());
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>A WebSocket client that reads in the background: text messages and binary frames (with arrival times) into channels.</summary>
internal sealed class TestClient : IAsyncDisposable
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);
    private readonly Channel<JsonElement> _messages = Channel.CreateUnbounded<JsonElement>();
    private readonly Channel<(byte[] Data, long Timestamp)> _audio = Channel.CreateUnbounded<(byte[], long)>();
    private readonly Task _reader;

    public TestClient(ClientWebSocket socket, bool read = true)
    {
        Socket = socket;
        _reader = read ? Task.Run(ReadAsync) : Task.CompletedTask;
    }

    public ClientWebSocket Socket { get; }

    public WebSocketCloseStatus? CloseStatus { get; private set; }

    public TaskCompletionSource Closed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task ReadAsync()
    {
        var buffer = new byte[256 * 1024];
        try
        {
            while (true)
            {
                var count = 0;
                WebSocketReceiveResult result;
                do
                {
                    result = await Socket.ReceiveAsync(new ArraySegment<byte>(buffer, count, buffer.Length - count), CancellationToken.None);
                    count += result.Count;
                }
                while (!result.EndOfMessage);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    CloseStatus = result.CloseStatus;
                    try
                    {
                        await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                    }
                    catch (WebSocketException)
                    {
                    }

                    break;
                }

                if (result.MessageType == WebSocketMessageType.Text)
                {
                    using var document = JsonDocument.Parse(buffer.AsMemory(0, count));
                    _messages.Writer.TryWrite(document.RootElement.Clone());
                }
                else
                {
                    _audio.Writer.TryWrite((buffer.AsSpan(0, count).ToArray(), Stopwatch.GetTimestamp()));
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            _messages.Writer.TryComplete();
            _audio.Writer.TryComplete();
            Closed.TrySetResult();
        }
    }

    public Task SendJsonAsync(object message) => SendTextAsync(JsonSerializer.Serialize(message));

    public Task SendTextAsync(string text) =>
        Socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    public Task SendBinaryAsync(ReadOnlyMemory<byte> data) =>
        Socket.SendAsync(data, WebSocketMessageType.Binary, true, CancellationToken.None).AsTask();

    public Task SendPcmAsync(ReadOnlySpan<short> samples) => SendBinaryAsync(MemoryMarshal.AsBytes(samples).ToArray());

    /// <summary>Next message of <paramref name="type"/>, skipping others (they are kept in <see cref="Skipped"/>).</summary>
    public async Task<JsonElement> ExpectAsync(string type, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        while (true)
        {
            var message = await _messages.Reader.ReadAsync(cts.Token);
            if (message.GetProperty("Type").GetString() == type)
            {
                return message;
            }

            Skipped.Add(message);
        }
    }

    public List<JsonElement> Skipped { get; } = [];

    /// <summary>Reads audio frames until <paramref name="quiet"/> passes without one (after the first), or the overall timeout.</summary>
    public async Task<List<(byte[] Data, long Timestamp)>> CollectAudioAsync(TimeSpan quiet, TimeSpan timeout)
    {
        var frames = new List<(byte[], long)>();
        using var overall = new CancellationTokenSource(timeout);
        try
        {
            frames.Add(await _audio.Reader.ReadAsync(overall.Token));
            while (true)
            {
                using var gap = CancellationTokenSource.CreateLinkedTokenSource(overall.Token);
                gap.CancelAfter(quiet);
                frames.Add(await _audio.Reader.ReadAsync(gap.Token));
            }
        }
        catch (OperationCanceledException)
        {
        }

        return frames;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (Socket.State == WebSocketState.Open)
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));
                await Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "", cts.Token);
            }
        }
        catch (Exception)
        {
        }

        Socket.Abort();
        await _reader;
        Socket.Dispose();
    }
}

internal static class Tone
{
    /// <summary>A sine tone of <paramref name="milliseconds"/> at <paramref name="sampleRate"/>.</summary>
    public static short[] Make(int sampleRate, int milliseconds, double frequency = 440, double amplitude = 8000)
    {
        var samples = new short[sampleRate * milliseconds / 1000];
        for (var i = 0; i < samples.Length; i++)
        {
            samples[i] = (short)(amplitude * Math.Sin(2 * Math.PI * frequency * i / sampleRate));
        }

        return samples;
    }

    /// <summary>Frequency estimate by zero crossings.</summary>
    public static double Frequency(ReadOnlySpan<short> samples, int sampleRate)
    {
        var crossings = 0;
        for (var i = 1; i < samples.Length; i++)
        {
            if ((samples[i - 1] < 0) != (samples[i] < 0))
            {
                crossings++;
            }
        }

        return crossings / 2.0 * sampleRate / samples.Length;
    }
}
