using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Parley.Server.Callbacks;

namespace Parley.Server.Tests.Api;

/// <summary>The shipped appsettings.json: Parley's own lines at Information, libraries at Warning.</summary>
public sealed class DefaultLogLevelsTests
{
    [Theory]
    [InlineData("Parley.Server.Instances.AgentInstanceGrain", true)]
    [InlineData("Parley.ControlApi", true)]
    [InlineData("Parley.Playground", true)]
    [InlineData("Microsoft.Hosting.Lifetime", true)]
    [InlineData("System.Net.Http.HttpClient." + CallbackDispatcher.HttpClientName + ".LogicalHandler", false)]
    [InlineData("System.Net.Http.HttpClient." + CallbackDispatcher.HttpClientName + ".ClientHandler", false)]
    [InlineData("Microsoft.AspNetCore.Hosting.Diagnostics", false)]
    [InlineData("Microsoft.AspNetCore.Routing.EndpointMiddleware", false)]
    [InlineData("Orleans.Runtime.Silo", false)]
    [InlineData("Polly", false)]
    [InlineData("Microsoft.Extensions.Http.DefaultHttpClientFactory", false)]
    public void ShippedSettings_LogInformationOnlyForParleyAndTheHostsLifetime(string category, bool information)
    {
        var path = Path.Combine(RepositoryRoot(), "src", "Parley.Server", "appsettings.json");
        var configuration = new ConfigurationBuilder().AddJsonFile(path).Build();
        using var services = new ServiceCollection()
            .AddLogging(logging => logging.AddConfiguration(configuration.GetSection("Logging")).AddProvider(new NullProvider()))
            .BuildServiceProvider();
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(category);

        Assert.Equal(information, logger.IsEnabled(LogLevel.Information));
        Assert.True(logger.IsEnabled(LogLevel.Warning));
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

    /// <summary>Enabled for every level: what the factory's filter lets through is what the settings decide.</summary>
    private sealed class NullProvider : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
        }

        public void Dispose()
        {
        }
    }
}
