using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Parley.Core.Observability;
using Parley.Core.Sessions;
using Parley.Server.Observability;

namespace Parley.Server.Tests.Observability;

public sealed class TelemetryHostingTests
{
    private static readonly DateTimeOffset T0 = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Metrics_PublishesTheRoomAndKestrelMeters_ButNotTheTurnMeterTwice_NorKestrelsPerBufferMemoryPool()
    {
        using var pool = new System.Diagnostics.Metrics.Meter(TelemetryHosting.KestrelMemoryPoolMeterName);
        using var rtc = new System.Diagnostics.Metrics.Meter(TelemetryHosting.RtcMeterName);
        using var kestrel = new System.Diagnostics.Metrics.Meter("Microsoft.AspNetCore.Server.Kestrel");
        using var turns = new System.Diagnostics.Metrics.Meter(ParleyTelemetry.Name);

        Assert.False(TelemetryHosting.IsPublishedAtMetrics(pool.CreateCounter<long>("aspnetcore.memory_pool.rented")));
        Assert.False(TelemetryHosting.IsPublishedAtMetrics(turns.CreateCounter<long>("parley.turns")));
        Assert.True(TelemetryHosting.IsPublishedAtMetrics(rtc.CreateCounter<long>("parley.rtc.dropped_frames")));
        Assert.True(TelemetryHosting.IsPublishedAtMetrics(kestrel.CreateUpDownCounter<long>("kestrel.active_connections")));
    }

    [Fact]
    public void WithoutAnEndpoint_NoOpenTelemetryProviderIsBuilt_ButTheObserversAreThere()
    {
        using var host = Build(new Dictionary<string, string?>());

        Assert.Null(host.Services.GetService<TracerProvider>());
        Assert.Null(host.Services.GetService<MeterProvider>());
        Assert.Null(host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<TelemetryOptions>>().Value.OtlpEndpoint);
        Assert.NotNull(host.Services.GetRequiredService<SessionObservers>().Create("inst_1"));
        Assert.Same(host.Services.GetRequiredService<ParleyTelemetry>(), host.Services.GetRequiredService<ParleyTelemetry>());
    }

    [Fact]
    public async Task WithTheParleySetting_TurnSpansAndHistogramsAreExportedByOtlpHttp()
    {
        await using var collector = await CountingCollector.StartAsync();
        using var host = Build(new Dictionary<string, string?>
        {
            ["Parley:Telemetry:OtlpEndpoint"] = collector.BaseAddress.ToString(),
            ["Parley:Telemetry:OtlpProtocol"] = "http/protobuf",
        });
        await host.StartAsync();

        // Nothing is sent until there is something to export (and no connection is attempted at start).
        Assert.Empty(collector.Requests);
        Turn(host);
        Assert.True(host.Services.GetRequiredService<TracerProvider>().ForceFlush(10_000));
        Assert.True(host.Services.GetRequiredService<MeterProvider>().ForceFlush(10_000));
        await host.StopAsync();

        var traces = Assert.Single(collector.Requests, r => r.Path == "/v1/traces");
        Assert.Equal("application/x-protobuf", traces.ContentType);
        Assert.Contains("inst_otlp", traces.Text, StringComparison.Ordinal);
        Assert.Contains(TelemetryNames.LlmFirstTokenSpan, traces.Text, StringComparison.Ordinal);
        var metrics = Assert.Single(collector.Requests, r => r.Path == "/v1/metrics");
        Assert.Contains(TelemetryNames.E2eLatency, metrics.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithTheStandardVariables_ExportGoesToTheirEndpoint()
    {
        await using var collector = await CountingCollector.StartAsync();
        using var host = Build(new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.BaseAddress.ToString(),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_SERVICE_NAME"] = "parley-under-test",
        });
        await host.StartAsync();

        Turn(host);
        Assert.True(host.Services.GetRequiredService<TracerProvider>().ForceFlush(10_000));
        await host.StopAsync();

        var traces = Assert.Single(collector.Requests, r => r.Path == "/v1/traces");
        Assert.Contains("parley-under-test", traces.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void TheDefaultProtocolIsGrpc_ToTheGivenEndpoint()
    {
        var options = TelemetryOptions.From(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Parley:Telemetry:OtlpEndpoint"] = "http://collector.example:4317",
        }).Build());

        Assert.Equal(("grpc", new Uri("http://collector.example:4317")), (options.OtlpProtocol, options.OtlpEndpoint));
    }

    [Theory]
    [InlineData("Parley:Telemetry:OtlpProtocol", "udp")]
    [InlineData("Parley:Telemetry:OtlpEndpoint", "collector:4317")]
    [InlineData("Parley:Telemetry:OtlpEndpoint", "ftp://collector/")]
    public void BadSettings_FailTheStart(string key, string value)
    {
        var ex = Assert.Throws<InvalidOperationException>(() => Build(new Dictionary<string, string?> { [key] = value }));
        Assert.Contains(key.Split(':')[^1], ex.Message, StringComparison.Ordinal);
    }

    private static IHost Build(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddLogging();
        builder.AddParleyTelemetry();
        return builder.Build();
    }

    private static void Turn(IHost host)
    {
        var observer = host.Services.GetRequiredService<SessionObservers>().Create("inst_otlp");
        observer.OnEvent(new TurnLatencyEvent(1, ReplyOutcome.Finished, true, T0, T0.AddMilliseconds(100), T0.AddMilliseconds(110),
            T0.AddMilliseconds(300), T0.AddMilliseconds(500), T0.AddMilliseconds(520)));
    }

    /// <summary>Stands in for an OTLP/HTTP collector: answers 200 and keeps what it was sent.</summary>
    private sealed class CountingCollector : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private CountingCollector(WebApplication app) => _app = app;

        public ConcurrentQueue<Received> Requests { get; } = new();

        public Uri BaseAddress { get; private set; } = null!;

        public static async Task<CountingCollector> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            var collector = new CountingCollector(app);
            app.Run(async context =>
            {
                using var body = new MemoryStream();
                await context.Request.Body.CopyToAsync(body, context.RequestAborted);
                collector.Requests.Enqueue(new Received(context.Request.Path, context.Request.ContentType, Encoding.UTF8.GetString(body.ToArray())));
                context.Response.StatusCode = StatusCodes.Status200OK;
            });
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
            collector.BaseAddress = new Uri(address);
            return collector;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        internal sealed record Received(string Path, string? ContentType, string Text);
    }
}
