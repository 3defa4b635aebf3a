using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Parley.Server.Storage;

namespace Parley.Server.Callbacks;

public static class CallbackHostingExtensions
{
    /// <summary>
    /// Registers the SQLite outbox as <see cref="ICallbackPublisher"/> and the <see cref="CallbackDispatcher"/> hosted
    /// service, with options from <c>Parley:Callbacks</c>. Needs <see cref="Apps.IAppDirectory"/> and
    /// <see cref="SqliteDatabase"/> (added here if absent) from the host.
    /// </summary>
    public static TBuilder AddParleyCallbacks<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        var services = builder.Services;
        services.AddOptions<CallbackOptions>()
            .Bind(builder.Configuration.GetSection(CallbackOptions.SectionName))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CallbackOptions>, CallbackOptionsValidator>());

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<SqliteDatabase>();
        services.TryAddSingleton<SqliteCallbackOutbox>();
        services.TryAddSingleton<ICallbackOutbox>(sp => sp.GetRequiredService<SqliteCallbackOutbox>());
        services.TryAddSingleton<ICallbackPublisher>(sp => sp.GetRequiredService<ICallbackOutbox>());

        // Callback URLs are the operator's (Parley:Apps): the outbound policy's always-refused addresses apply (link-local,
        // metadata, this server itself), on the resolved address of every connection; no redirects, no proxy. The
        // dispatcher writes one line per failed attempt (none per success at Information); the factory's own four lines
        // per request (start, send, headers, end) are removed for this client.
        services.AddParleyOutboundPolicy(builder.Configuration);
        services.AddHttpClient(CallbackDispatcher.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(sp => sp.GetRequiredService<Parley.Providers.Net.OutboundPolicy>().CreateHandler(Parley.Providers.Net.UrlOrigin.Operator))
            .RemoveAllLoggers();

        // ParleyListCallbacks / ParleyRedeliverCallbacks: Parley extensions of the control API, signed per app.
        services.AddSingleton<Action<Api.ActionRegistry>>(CallbackAdminActions.Map);
        services.AddSingleton<CallbackDispatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<CallbackDispatcher>());
        return builder;
    }

    private sealed class CallbackOptionsValidator : IValidateOptions<CallbackOptions>
    {
        public ValidateOptionsResult Validate(string? name, CallbackOptions options)
        {
            var failures = options.Validate().ToList();
            return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
        }
    }
}
