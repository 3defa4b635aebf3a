using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Parley.Abstractions.Speech;
using Parley.Core.Providers;

namespace Parley.Providers.DashScope;

/// <summary>
/// A Paraformer recognition stream: one DashScope task per utterance. Pushes queue pooled copies of the samples (see
/// <see cref="RecognitionStreamBase"/>), so they never wait on the network. The worker opens a task at the
/// first audio after a final (run-task on a pooled connection; audio stays queued until task-started), sends each
/// queued piece as a binary frame of PCM16 little-endian, and at the end of an utterance sends finish-task and emits ONE final
/// result when task-finished arrives: the utterance's sentences joined. Partials (the sentences so far plus the
/// current partial sentence) come from result-generated while audio flows. An utterance without audio gets an empty
/// final without a task. A vendor failure (task-failed, refused connection, rejected key, broken connection) ends
/// the results with a <see cref="DashScopeException"/>.
/// </summary>
internal sealed partial class ParaformerRecognitionStream : RecognitionStreamBase
{
    private const int InputCapacity = 2048; // queued pieces; ~40 s of 20 ms frames

    private readonly DashScopeConnectionPool _pool;
    private readonly ParaformerRequest _request;
    private readonly ILogger _logger;

    internal ParaformerRecognitionStream(DashScopeConnectionPool pool, ParaformerRequest request, ILogger logger)
        : base(request.Vendor, InputCapacity)
    {
        _pool = pool;
        _request = request;
        _logger = logger;
        Start();
    }

    protected override void OnFailed(Exception exception) => LogFailed(_logger, exception.Message);

    protected override async Task RunAsync(ChannelReader<AudioPiece> input, ChannelWriter<SpeechRecognitionResult> results, CancellationToken cancellationToken)
    {
        Utterance? current = null;
        var bytes = Array.Empty<byte>(); // PCM16 little-endian of the piece being sent; grows to the largest piece
        try
        {
            while (await input.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (input.TryRead(out var piece))
                {
                    if (piece.IsEndOfUtterance)
                    {
                        var text = string.Empty;
                        if (current is not null)
                        {
                            var utterance = current;
                            current = null;
                            text = await utterance.FinishAsync(cancellationToken).ConfigureAwait(false);
                        }

                        await results.WriteAsync(new SpeechRecognitionResult(text, IsFinal: true), cancellationToken).ConfigureAwait(false);
                        continue;
                    }

                    int length;
                    try
                    {
                        length = piece.Length * 2;
                        if (bytes.Length < length)
                        {
                            if (bytes.Length > 0)
                            {
                                ArrayPool<byte>.Shared.Return(bytes);
                            }

                            bytes = ArrayPool<byte>.Shared.Rent(length);
                        }

                        ToLittleEndian(piece.Samples, bytes);
                    }
                    finally
                    {
                        piece.Return();
                    }

                    current ??= await Utterance.StartAsync(_pool, _request, results, cancellationToken).ConfigureAwait(false);
                    await current.SendAsync(bytes.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            if (current is not null)
            {
                await current.AbandonAsync().ConfigureAwait(false);
            }

            if (bytes.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(bytes);
            }
        }
    }

    private static void ToLittleEndian(ReadOnlySpan<short> samples, Span<byte> target)
    {
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(samples).CopyTo(target);
            return;
        }

        for (var i = 0; i < samples.Length; i++)
        {
            BinaryPrimitives.WriteInt16LittleEndian(target[(i * 2)..], samples[i]);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "AliyunParaformer recognition failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);

    /// <summary>One DashScope task: audio out, result events in.</summary>
    private sealed class Utterance
    {
        private readonly DashScopeConnectionPool _pool;
        private readonly DashScopeConnection _connection;
        private readonly string _taskId;
        private readonly ChannelWriter<SpeechRecognitionResult> _results;
        private readonly CancellationTokenSource _receiving = new();
        private readonly StringBuilder _finals = new();
        private string _partial = string.Empty;
        private string _lastSent = string.Empty;
        private Task<string> _receiver = null!;
        private bool _returned;
        private readonly string _vendor;

        private Utterance(DashScopeConnectionPool pool, DashScopeConnection connection, string taskId, ChannelWriter<SpeechRecognitionResult> results, string vendor)
        {
            _vendor = vendor;
            _pool = pool;
            _connection = connection;
            _taskId = taskId;
            _results = results;
        }

        public static async Task<Utterance> StartAsync(
            DashScopeConnectionPool pool, ParaformerRequest request, ChannelWriter<SpeechRecognitionResult> results, CancellationToken cancellationToken)
        {
            var taskId = Guid.NewGuid().ToString("N");
            var connection = await pool.StartTaskAsync(
                request.Vendor, request.ApiKey, taskId, request, static (w, r) => r.WritePayload(w), cancellationToken).ConfigureAwait(false);
            var utterance = new Utterance(pool, connection, taskId, results, request.Vendor);
            utterance._receiver = Task.Run(() => utterance.ReceiveAsync(utterance._receiving.Token));
            return utterance;
        }

        public async Task SendAsync(ReadOnlyMemory<byte> audio, CancellationToken cancellationToken)
        {
            try
            {
                await _connection.SendBinaryAsync(audio, cancellationToken).ConfigureAwait(false);
            }
            catch (DashScopeException) when (_receiver.IsFaulted)
            {
                await _receiver.ConfigureAwait(false); // the server's reason (task-failed) rather than "connection broke"
                throw;
            }
        }

        /// <summary>Sends finish-task and waits for task-finished; returns the utterance's text.</summary>
        public async Task<string> FinishAsync(CancellationToken cancellationToken)
        {
            var clean = false;
            try
            {
                if (!_receiver.IsCompleted)
                {
                    try
                    {
                        await _connection.SendFinishTaskAsync(_taskId, cancellationToken).ConfigureAwait(false);
                    }
                    catch (DashScopeException) when (_receiver.IsFaulted)
                    {
                    }
                }

                string text;
                try
                {
                    text = await _receiver.WaitAsync(_pool.Options.ResponseTimeout, _pool.Time, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    throw new DashScopeException(
                        $"{_vendor}: DashScope did not finish the task within {_pool.Options.ResponseTimeout.TotalSeconds:0.#} s of finish-task.",
                        "Timeout");
                }

                clean = true;
                return text;
            }
            finally
            {
                if (!clean)
                {
                    await _receiving.CancelAsync().ConfigureAwait(false);
                    await ((Task)_receiver).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }

                Release(clean);
            }
        }

        public async Task AbandonAsync()
        {
            await _receiving.CancelAsync().ConfigureAwait(false);
            await ((Task)_receiver).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            Release(reusable: false);
        }

        private void Release(bool reusable)
        {
            if (_returned)
            {
                return;
            }

            _returned = true;
            _pool.Return(_connection, reusable);
            _receiving.Dispose();
        }

        private async Task<string> ReceiveAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                var (_, e) = await _connection.ReceiveAsync(cancellationToken).ConfigureAwait(false);
                if (e is null || e.TaskId != _taskId)
                {
                    continue;
                }

                switch (e.Name)
                {
                    case DashScopeEvent.ResultGenerated when !e.Heartbeat && e.SentenceText is not null:
                        if (e.SentenceEnd)
                        {
                            Join(_finals, e.SentenceText);
                            _partial = string.Empty;
                        }
                        else
                        {
                            _partial = e.SentenceText.Trim();
                        }

                        var text = _partial.Length == 0 ? _finals.ToString() : Join(new StringBuilder(_finals.ToString()), _partial).ToString();
                        if (text.Length > 0 && text != _lastSent)
                        {
                            _lastSent = text;
                            _results.TryWrite(new SpeechRecognitionResult(text, IsFinal: false)); // a newer partial supersedes a dropped one
                        }

                        break;
                    case DashScopeEvent.TaskFinished:
                        // A partial sentence never closed by sentence_end still belongs to the utterance.
                        return _partial.Length == 0 ? _finals.ToString() : Join(_finals, _partial).ToString();
                    case DashScopeEvent.TaskFailed:
                        throw DashScopeConnectionPool.TaskFailed(_vendor, e);
                }
            }
        }

        /// <summary>Appends a sentence: separated by a space, except between CJK characters (which use none).</summary>
        private static StringBuilder Join(StringBuilder text, string sentence)
        {
            sentence = sentence.Trim();
            if (sentence.Length == 0)
            {
                return text;
            }

            if (text.Length > 0 && !(IsCjk(text[^1]) || IsCjk(sentence[0])))
            {
                text.Append(' ');
            }

            return text.Append(sentence);
        }

        private static bool IsCjk(char c) => c >= '\u2E80' && c <= '\uFFEF';
    }
}
