using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Parley.Providers.Local;
using Parley.Server.Rooms;
using Parley.Testing;
using Xunit;

namespace Parley.Server.Tests.Rooms;

/// <summary>
/// <c>Parley:Turns:EchoCancellation</c> / <c>Parley:Turns:EchoTailLength</c>: bound and validated when the server starts,
/// and wired into every room session's listening setup (a fresh canceller per input pipeline).
/// </summary>
public sealed class EchoCancellationSettingsTests
{
    [Fact]
    public async Task Default_IsNone_NoInputProcessors()
    {
        await using var server = await ParleyTestServer.StartAsync();

        var setup = server.Services.GetRequiredService<SpeechRecognizers>().CreateListening(new JsonObject());

        Assert.Null(setup.CreateProcessors);
        Assert.Equal(EchoCancellationMode.None, server.Services.GetRequiredService<EchoCancellers>().Mode);
    }

    [Theory]
    [InlineData("Speex")]
    [InlineData("speex")]
    public async Task Speex_EverySessionGetsItsOwnCanceller_WithTheConfiguredTail(string value)
    {
        await using var server = await ParleyTestServer.StartAsync(settings: new Dictionary<string, string?>
        {
            [EchoCancellationSettings.ModeKey] = value,
            [EchoCancellationSettings.TailKey] = "00:00:00.400",
        });
        var recognizers = server.Services.GetRequiredService<SpeechRecognizers>();

        var first = recognizers.CreateListening(new JsonObject()).CreateProcessors!();
        var second = recognizers.CreateListening(new JsonObject { ["Vendor"] = "Local" }).CreateProcessors!();
        try
        {
            var canceller = Assert.IsType<SpeexEchoCanceller>(Assert.Single(first));
            Assert.Equal(TimeSpan.FromMilliseconds(400), canceller.TailLength);
            Assert.NotSame(canceller, Assert.Single(second));
        }
        finally
        {
            foreach (var processor in first.Concat(second))
            {
                (processor as IDisposable)?.Dispose();
            }
        }
    }

    [Theory]
    [InlineData("Loud", "Parley:Turns:EchoCancellation must be None or Speex, not 'Loud'")]
    [InlineData("1", "Parley:Turns:EchoCancellation must be None or Speex, not '1'")]
    [InlineData("", "Parley:Turns:EchoCancellation must be None or Speex")]
    public async Task BadMode_FailsTheStart_NamingTheKey(string value, string message)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => ParleyTestServer.StartAsync(
            settings: new Dictionary<string, string?> { [EchoCancellationSettings.ModeKey] = value }));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("00:00:00.005")]
    [InlineData("00:00:05")]
    public async Task TailOutOfRange_FailsTheStart_NamingTheKey(string value)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => ParleyTestServer.StartAsync(
            settings: new Dictionary<string, string?> { [EchoCancellationSettings.ModeKey] = "Speex", [EchoCancellationSettings.TailKey] = value }));

        Assert.Contains("Parley:Turns:EchoTailLength must be between 10 ms and 2000 ms", error.Message, StringComparison.Ordinal);
    }
}
