using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Parley.Server.Api;
using Parley.Server.Storage;
using Parley.Testing;

namespace Parley.Server.Tests.Instances;

/// <summary>What an instance's configuration may hold: stored agents from before the body checks, and TTS Params the engine can speak with.</summary>
public sealed class InstanceConfigurationTests(InstanceServerFixture fixture) : IClassFixture<InstanceServerFixture>
{
    private static void AssertCode(int expected, JsonElement reply) => Assert.True(reply.Code() == expected, $"expected {expected}: {reply}");

    [Fact]
    public async Task StoredAgentWithARepeatedField_FromBeforeTheCheck_IsReadWithTheLastValue_AndStartsInstances()
    {
        // An agent stored before repeated fields were refused: both Url keys were kept in the row.
        var api = fixture.Api();
        AssertCode(0, await api.CallAsync("ListAgents"));
        var agentId = fixture.Unique("stored_dup");
        var llm = $$"""{"Url":"file:///etc/passwd","Url":"{{fixture.Llm.Url}}","Model":"agent-model","Model":"agent-model"}""";
        await using (var connection = await fixture.Server.Services.GetRequiredService<SqliteDatabase>().OpenAsync(CancellationToken.None))
        {
            await using var insert = connection.CreateCommand();
            insert.CommandText = "INSERT INTO agents (app_id, agent_id, name, llm, tts, asr, created_at, updated_at) VALUES ($app, $id, 'old', $llm, '{\"Vendor\":\"Local\",\"Vendor\":\"Local\"}', '{}', 0, 0);";
            insert.Parameters.AddWithValue("$app", (long)InstanceServerFixture.AppA.AppId);
            insert.Parameters.AddWithValue("$id", agentId);
            insert.Parameters.AddWithValue("$llm", llm);
            await insert.ExecuteNonQueryAsync();
        }

        var query = await api.CallAsync("QueryAgents", new { AgentIds = new[] { agentId } });
        AssertCode(0, query);
        var echoed = query.Data().GetProperty("Agents")[0].GetProperty("LLM");
        Assert.Equal(new[] { "Url", "Model" }, echoed.EnumerateObject().Select(p => p.Name));
        Assert.Equal(fixture.Llm.Url, echoed.GetProperty("Url").GetString());

        var created = await api.CallAsync("CreateAgentInstance", fixture.CreateBody(agentId));
        AssertCode(0, created);
        AssertCode(0, await api.CallAsync("DeleteAgentInstance", new { AgentInstanceId = created.Data().GetProperty("AgentInstanceId").GetString() }));
    }

    [Fact]
    public async Task Create_WithTtsOverrideTheEngineCannotSpeak_IsInvalidParameter()
    {
        var api = fixture.Api();
        var body = fixture.CreateBody(await fixture.RegisterAgentAsync());
        body["TTS"] = new JsonObject { ["Params"] = new JsonObject { ["voice"] = "xyz" } };

        var reply = await api.CallAsync("CreateAgentInstance", body);

        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.StartsWith("TTS.Params.voice 'xyz' is not a flite voice", reply.Message(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Update_WithTtsParamsTheEngineCannotSpeak_IsInvalidParameter_AndTheInstanceKeepsItsVoice()
    {
        var api = fixture.Api();
        var created = await api.CallAsync("CreateAgentInstance", fixture.CreateBody(await fixture.RegisterAgentAsync()));
        AssertCode(0, created);
        var id = created.Data().GetProperty("AgentInstanceId").GetString();

        var reply = await api.CallAsync("UpdateAgentInstance", new { AgentInstanceId = id, TTS = new { Params = new { speed = 9 } } });

        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.StartsWith("TTS.Params.speed 9 is outside", reply.Message(), StringComparison.Ordinal);
        AssertCode(0, await api.CallAsync("UpdateAgentInstance", new { AgentInstanceId = id, TTS = new { Params = new { speed = 1.2 } } }));
        AssertCode(0, await api.CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
    }
}
