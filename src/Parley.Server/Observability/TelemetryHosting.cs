using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Parley.Core.Observability;

namespace Parley.Server.Observability;

/// <summary>
/// OTLP export (section <c>Parley:Telemetry</c>, or the standard <c>OTEL_EXPORTER_OTLP_*</c> variables). With no endpoint
/// nothing is exported and no OpenTelemetry provider is built: the spans and histograms still exist for in-process
/// listeners, and <c>/metrics</c> (Prometheus) is unaffected either way.
/// </summary>
public sealed class TelemetryOptions
{
    public const string SectionName = "Parley:Telemetry";

    /// <summary>Collector base address, e.g. <c>http://localhost:4317</c> (gRPC) or <c>http://localhost:4318</c> (HTTP).</summary>
    public Uri? OtlpEndpoint { get; set; }

    /// <summary><c>grpc</c> (default) or <c>http/protobuf</c>.</summary>
    public string OtlpProtocol { get; set; } = "grpc";

    /// <summary>Resource <c>service.name</c> (default <c>parley</c>, or <c>OTEL_SERVICE_NAME</c>).</summary>
    public string ServiceName { get; set; } = "parley";

    internal static TelemetryOptions From(IConfiguration configuration)
    {
        var options = new TelemetryOptions();
        var section = configuration.GetSection(SectionName);
        var endpoint = section["OtlpEndpoint"] ?? configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
        if (!string.IsNullOrWhiteSpace(endpoint))
        {
            if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                throw new InvalidOperationException("Parley:Telemetry:OtlpEndpoint (or OTEL_EXPORTER_OTLP_ENDPOINT) must be an absolute http or https URL");
            }

            options.OtlpEndpoint = uri;
        }

        options.OtlpProtocol = section["OtlpProtocol"] ?? configuration["OTEL_EXPORTER_OTLP_PROTOCOL"] ?? options.OtlpProtocol;
        if (options.OtlpProtocol is not ("grpc" or "http/protobuf"))
        {
            throw new InvalidOperationException($"Parley:Telemetry:OtlpProtocol '{options.OtlpProtocol}' is not supported; use 'grpc' or 'http/protobuf'");
        }

        options.ServiceName = section["ServiceName"] ?? configuration["OTEL_SERVICE_NAME"] ?? options.ServiceName;
        return options;
    }
}

/// <summary>Makes each instance's session observers (today the turn latency observer feeding <see cref="TurnLog"/>).</summary>
internal sealed class SessionObservers(ParleyTelemetry telemetry, TurnLog log)
{
    public TurnLatencyObserver Create(string instanceId) => new(instanceId, telemetry, log);
}

public static class TelemetryHosting
{
    /// <summary>The <c>Parley.Rtc</c> room meter (<c>RtcMetrics</c>), exported beside <see cref="ParleyTelemetry.Name"/>.</summary>
    internal const string RtcMeterName = "Parley.Rtc";

    private static int _meterAdapterConfigured;

    /// <summary>Kestrel's memory pool meter: a measurement per buffer rented or returned.</summary>
    internal const string KestrelMemoryPoolMeterName = "Microsoft.AspNetCore.MemoryPool";

    /// <summary>Which .NET meters' instruments prometheus-net publishes at <c>/metrics</c>.</summary>
    internal static bool IsPublishedAtMetrics(System.Diagnostics.Metrics.Instrument instrument) =>
        instrument.Meter.Name is not (ParleyTelemetry.Name or KestrelMemoryPoolMeterName);

    public static IHostApplicationBuilder AddParleyTelemetry(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = TelemetryOptions.From(builder.Configuration);
        var services = builder.Services;
        services.AddMetrics();
        services.AddSingleton(Microsoft.Extensions.Options.Options.Create(options));
        services.TryAddSingleton(sp => new ParleyTelemetry(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.TryAddSingleton<TurnLog>();
        services.TryAddSingleton<SessionObservers>();

        // /metrics keeps its own turn series (TurnLog: parley_turn_stage_seconds, parley_turns_total). prometheus-net's
        // default adapter would also publish this meter there under doubled names (parley_agents_parley_agents_...).
        // Kestrel's memory pool meter is left out too: it records on every buffer rented and returned, i.e. on every
        // socket read of every connection (issue 15: 1.8 % of an idle server's CPU went to that listener alone).
        // The adapter is process-wide: configured once, not again by every host a test process builds.
        if (Interlocked.Exchange(ref _meterAdapterConfigured, 1) == 0)
        {
            Prometheus.Metrics.ConfigureMeterAdapter(adapter => adapter.InstrumentFilterPredicate = IsPublishedAtMetrics);
        }

        if (options.OtlpEndpoint is not { } endpoint)
        {
            return builder;
        }

        var protocol = options.OtlpProtocol == "http/protobuf" ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(options.ServiceName))
            .WithTracing(tracing => tracing
                .AddSource(ParleyTelemetry.Name)
                .AddOtlpExporter(otlp => Configure(otlp, endpoint, protocol, "v1/traces")))
            .WithMetrics(metrics => metrics
                .AddMeter(ParleyTelemetry.Name, RtcMeterName)
                .AddOtlpExporter(otlp => Configure(otlp, endpoint, protocol, "v1/metrics")));
        return builder;
    }

    /// <summary>
    /// The endpoint is a base address (the OTLP convention for <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>): over HTTP each signal
    /// goes to its own path; the exporter does not add it to an endpoint set in code.
    /// </summary>
    private static void Configure(OtlpExporterOptions otlp, Uri endpoint, OtlpExportProtocol protocol, string signalPath)
    {
        otlp.Protocol = protocol;
        otlp.Endpoint = protocol == OtlpExportProtocol.HttpProtobuf
            ? new Uri(endpoint.AbsoluteUri.TrimEnd('/') + "/" + signalPath)
            : endpoint;
    }
}
