using System.Text.RegularExpressions;
using Parley.Testing;

namespace Parley.Server.Tests.Api;

/// <summary>The server as a real process, started the way the README starts it.</summary>
[Trait("Category", "RealEngine")]
public sealed partial class ProcessTests
{
    [Fact]
    public async Task FirstStart_PrintsTheDevelopmentApp_WhoseCredentialsSignRequests_AndAgentsSurviveKill9()
    {
        var data = Path.Combine(Path.GetTempPath(), "parley-tests", Guid.NewGuid().ToString("N"));
        try
        {
            TestApp app;
            await using (var server = await ServerProcess.StartAsync(data))
            {
                await WaitForAsync(() => server.Output.Contains("ServerSecret"));
                var output = server.Output;
                app = new TestApp(
                    uint.Parse(AppIdLine().Match(output).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture),
                    SecretLine().Match(output).Groups[1].Value);
                Assert.Equal(32, app.ServerSecret.Length);

                var api = new RawApi(new HttpClient { BaseAddress = server.BaseAddress }, app);
                Assert.Equal(0, (await api.CallAsync("RegisterAgent", new
                {
                    AgentId = "survivor",
                    LLM = new { Url = "http://127.0.0.1:9/v1/chat/completions", Model = "m" },
                    TTS = new { Vendor = "Local" },
                })).Code());

                await server.KillAsync();
            }

            await using (var again = await ServerProcess.StartAsync(data))
            {
                var api = new RawApi(new HttpClient { BaseAddress = again.BaseAddress }, app);
                var agents = (await api.CallAsync("QueryAgents", new { AgentIds = new[] { "survivor" } })).Data().GetProperty("Agents");
                Assert.Equal(1, agents.GetArrayLength());

                // The secret goes to the console once, in the credentials block for the developer, and into no log line.
                await WaitForAsync(() => again.Output.Contains("ServerSecret"));
                Assert.Single(Regex.Matches(again.Output, Regex.Escape(app.ServerSecret)));
            }
        }
        finally
        {
            try
            {
                Directory.Delete(data, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (var i = 0; i < 100 && !condition(); i++)
        {
            await Task.Delay(100);
        }
    }

    [GeneratedRegex(@"AppId\s+(\d+)")]
    private static partial Regex AppIdLine();

    [GeneratedRegex(@"ServerSecret\s+([0-9a-f]{32})")]
    private static partial Regex SecretLine();
}
