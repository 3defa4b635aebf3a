using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using OpenAI.Chat;
using Parley.Core.Sessions;

namespace Parley.Providers.Llm;

/// <summary>The audio-output path: the SDK's streaming client, whose updates carry <c>delta.audio</c> (data and transcript).</summary>
public sealed partial class OpenAICompatibleChatModel
{
#pragma warning disable OPENAI001 // Audio output is "evaluation only" in the SDK; its wire format (delta.audio) is OpenAI's and Qwen-Omni's.
    private async IAsyncEnumerable<ChatOutput> StreamAudioAsync(ChatModelRequest request, JsonObject extras, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var settings = request.Settings;
        var url = CheckedUrl(settings);

        var messages = new List<ChatMessage>(request.History.Count + 2);
        if (!string.IsNullOrEmpty(request.SystemPrompt))
        {
            messages.Add(new SystemChatMessage(request.SystemPrompt));
        }

        foreach (var message in request.History)
        {
            messages.Add(message.Role == MessageRole.User ? new UserChatMessage(message.Content) : new AssistantChatMessage(message.Content));
        }

        messages.Add(new UserChatMessage(request.UserText));

        // These options only make the SDK parse the audio deltas: the body's modalities and audio are the agent's
        // Params, as the request policy sends them.
        var options = new ChatCompletionOptions
        {
            Temperature = (float)settings.Temperature,
            TopP = (float)settings.TopP,
            ResponseModalities = ChatResponseModalities.Text | ChatResponseModalities.Audio,
            AudioOptions = new ChatAudioOptions(ChatOutputAudioVoice.Alloy, ChatOutputAudioFormat.Pcm16),
        };

        var client = CreateOpenAIClient(url, settings, extras).GetChatClient(settings.Model);
        IAsyncEnumerator<StreamingChatCompletionUpdate> updates;
        try
        {
            updates = client.CompleteChatStreamingAsync(messages, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw Map(ex);
        }

        var finished = false;
        await using (updates.ConfigureAwait(false))
        {
            while (true)
            {
                StreamingChatCompletionUpdate update;
                try
                {
                    if (!await updates.MoveNextAsync().ConfigureAwait(false))
                    {
                        break;
                    }

                    update = updates.Current;
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not LlmException)
                {
                    throw Map(ex);
                }

                if (update.FinishReason is not null)
                {
                    finished = true;
                }

                var text = string.Concat(update.ContentUpdate.Select(p => p.Text));
                ReadOnlyMemory<byte> audio = default;
                if (update.OutputAudioUpdate is { } spoken)
                {
                    text += spoken.TranscriptUpdate;
                    audio = spoken.AudioBytesUpdate?.ToMemory() ?? default;
                }

                if (text.Length > 0 || !audio.IsEmpty)
                {
                    yield return new ChatOutput(text.Length > 0 ? text : null, audio, audio.IsEmpty ? 0 : ModelAudioSampleRate);
                }
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        if (!finished)
        {
            throw new LlmException(LlmErrorKind.General, "The LLM stream ended without a finish_reason");
        }
    }
#pragma warning restore OPENAI001
}
