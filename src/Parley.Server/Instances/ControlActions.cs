using Microsoft.Extensions.Options;
using Parley.Server.Api;

namespace Parley.Server.Instances;

/// <summary>Agent instance control (spec 5.1–5.6).</summary>
public static class ControlActions
{
    public const int TtsTextMaxChars = 300;

    public static void Map(ActionRegistry registry) => registry
        .Add("SendAgentInstanceLLM", SendLlmAsync)
        .Add("SendAgentInstanceTTS", SendTtsAsync)
        .Add("QueryAgentInstanceStatus", QueryStatusAsync)
        .Add("InterruptAgentInstance", InterruptAsync)
        .Add("GetAgentInstanceMsgList", GetMessagesAsync)
        .Add("ResetAgentInstanceMsgList", ResetMessagesAsync)
        .Add("AddAgentInstanceMsg", AddMessagesAsync)
        .Add("StartListening", ListeningActions.StartAsync)
        .Add("StopListening", ListeningActions.StopAsync);

    private static async ValueTask<object?> SendLlmAsync(ActionContext context, CancellationToken cancellationToken)
    {
        var body = context.Body;
        var instance = InstanceActions.Instance(context);
        var text = body.RequiredString("Text", 64 * 1024);
        var systemPrompt = body.OptionalString("SystemPrompt", 64 * 1024);
        var addQuestion = body.OptionalBool("AddQuestionToHistory") ?? false;
        var addAnswer = body.OptionalBool("AddAnswerToHistory")
            ?? context.Services.GetRequiredService<IOptions<InstanceHostOptions>>().Value.AddAnswerToHistory;
        var priority = ReadPriority(body) ?? 1;
        var enqueue = ReadEnqueue(body);
        body.OptionalBool("EnqueueUserSpeech");
        var reply = await instance.SendLlmAsync(new LlmCommand
        {
            Text = text,
            SystemPrompt = systemPrompt,
            AddQuestionToHistory = addQuestion,
            AddAnswerToHistory = addAnswer,
            Priority = priority,
            Enqueue = enqueue,
        });
        InstanceActions.Check(reply);
        return new { reply.Round };
    }

    private static async ValueTask<object?> SendTtsAsync(ActionContext context, CancellationToken cancellationToken)
    {
        var body = context.Body;
        var instance = InstanceActions.Instance(context);
        var text = body.RequiredString("Text");
        if (text.Length > TtsTextMaxChars)
        {
            throw ApiException.InvalidParameter($"Text has {text.Length} characters; at most {TtsTextMaxChars} are allowed");
        }

        var addHistory = body.OptionalBool("AddHistory") ?? true;
        var interruptMode = (int)(body.OptionalInteger("InterruptMode", 0, 1) ?? 0);
        // The deprecated InterruptMode, when Priority is not given: 0 → Medium, 1 → High (both ClearAndInterrupt, the default).
        var priority = ReadPriority(body) ?? (interruptMode == 1 ? 2 : 1);
        var enqueue = ReadEnqueue(body);
        body.OptionalBool("EnqueueUserSpeech");
        var reply = await instance.SendTtsAsync(new TtsCommand
        {
            Text = text,
            AddHistory = addHistory,
            InterruptMode = interruptMode,
            Priority = priority,
            Enqueue = enqueue,
        });
        InstanceActions.Check(reply);
        return new { reply.Round };
    }

    private static async ValueTask<object?> QueryStatusAsync(ActionContext context, CancellationToken cancellationToken)
    {
        var reply = await InstanceActions.Instance(context).GetStatusAsync();
        InstanceActions.Check(reply);
        return new { Status = reply.Status };
    }

    private static async ValueTask<object?> InterruptAsync(ActionContext context, CancellationToken cancellationToken)
    {
        var reply = await InstanceActions.Instance(context).InterruptAsync();
        InstanceActions.Check(reply);
        return new { reply.Round };
    }

    private static async ValueTask<object?> GetMessagesAsync(ActionContext context, CancellationToken cancellationToken)
    {
        var reply = await InstanceActions.Instance(context).GetMessagesAsync();
        if (reply.Code != 0)
        {
            throw new ApiException(reply.Code, reply.Message);
        }

        return new
        {
            Total = reply.Messages.Count,
            MessageList = reply.Messages.Select(m => new { m.Role, m.Content }).ToList(),
        };
    }

    private static async ValueTask<object?> ResetMessagesAsync(ActionContext context, CancellationToken cancellationToken)
    {
        InstanceActions.Check(await InstanceActions.Instance(context).ResetMessagesAsync());
        return null;
    }

    /// <summary>AddAgentInstanceMsg: <c>Messages</c> (optional, as in ZEGO's yaml; none is a no-op) of <c>{Role: user|assistant, Content}</c>.</summary>
    private static async ValueTask<object?> AddMessagesAsync(ActionContext context, CancellationToken cancellationToken)
    {
        var instance = InstanceActions.Instance(context);
        var items = context.Body.OptionalArray("Messages", InstanceActions.MaxHistoryMessages) ?? [];
        var messages = new List<HistoryMessage>(items.Count);
        foreach (var item in items)
        {
            if (item.Element.ValueKind != System.Text.Json.JsonValueKind.Object)
            {
                throw ApiException.InvalidParameter($"{item.FieldPath("x")[..^2]} must be an object");
            }

            var role = item.RequiredString("Role");
            if (role is not ("user" or "assistant"))
            {
                throw ApiException.InvalidParameter($"{item.FieldPath("Role")} must be 'user' or 'assistant'");
            }

            var content = item.OptionalString("Content", 64 * 1024) ?? throw ApiException.InvalidParameter($"{item.FieldPath("Content")} is required");
            messages.Add(new HistoryMessage { Role = role, Content = content });
        }

        InstanceActions.Check(await instance.AddMessagesAsync(messages));
        return null;
    }

    /// <summary>High=2, Medium=1, Low=0 (null when not given); matched case-insensitively; an empty string is invalid (as ZEGO).</summary>
    private static int? ReadPriority(RequestBody body)
    {
        var priority = body.OptionalString("Priority", 16);
        return priority switch
        {
            null => null,
            _ when priority.Equals("High", StringComparison.OrdinalIgnoreCase) => 2,
            _ when priority.Equals("Medium", StringComparison.OrdinalIgnoreCase) => 1,
            _ when priority.Equals("Low", StringComparison.OrdinalIgnoreCase) => 0,
            _ => throw ApiException.InvalidParameter("Priority is invalid (High, Medium or Low)"),
        };
    }

    /// <summary>ClearAndInterrupt (default; also ZEGO's misspelling ClearAndInterupt) or Enqueue.</summary>
    private static bool ReadEnqueue(RequestBody body)
    {
        var option = body.OptionalString("SamePriorityOption", 32);
        return option switch
        {
            null => false,
            _ when option.Equals("Enqueue", StringComparison.OrdinalIgnoreCase) => true,
            _ when option.Equals("ClearAndInterrupt", StringComparison.OrdinalIgnoreCase)
                || option.Equals("ClearAndInterupt", StringComparison.OrdinalIgnoreCase) => false,
            _ => throw ApiException.InvalidParameter("SamePriorityOption is invalid (ClearAndInterrupt or Enqueue)"),
        };
    }
}
