using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Parley.Abstractions.Speech;

namespace Parley.Providers.DashScope;

/// <summary>
/// A Paraformer recognition stream: one DashScope task per utterance. <see cref="PushAsync"/> copies the samples as
/// PCM16 bytes into a pooled buffer and queues them, so it never waits on the network. A worker opens a task at the
/// first audio after a final (run-task on a pooled connection; audio stays queued until task-started), sends each
/// queued buffer as a binary frame, and on <see cref="EndUtteranceAsync"/> sends finish-task and emits ONE final
/// result when task-finished arrives: the utterance's sentences joined. Partials (the sentences so far plus the
/// current partial sentence) come from result-generated while audio flows. An utterance without audio gets an empty
/// final without a task. A vendor failure (task-failed, refused connection, rejected key, broken connection) ends
/// <see cref="Results"/> with a <see cref="DashScopeException"/>.
/// </summary>
internal sealed partial class ParaformerRecognitionStream : ISpeechRecognitionStream
{
    private const int InputCapacity = 2048; // queued pieces; ~40 s of 20 ms frames
    private const int ResultCapacity = 64;

    private readonly Channel<Piece> _input;
    private readonly Channel<SpeechRecognitionResult> _results;
    private readonly CancellationTokenSource _stop = new();
    private readonly DashScopeConnectionPool _pool;
    private readonly ParaformerRequest _request;
    private readonly ILogger _logger;
    private readonly Task _worker;
    private int _disposed;

    internal ParaformerRecognitionStream(DashScopeConnectionPool pool, ParaformerRequest request, ILogger logger)
    {
        _pool = pool;
        _request = request;
        _logger = logger;
        _input = Channel.CreateBounded<Piece>(new BoundedChannelOptions(InputCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
        _results = Channel.CreateBounded<SpeechRecognitionResult>(new BoundedChannelOptions(ResultCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
        _worker = Task.Run(() => RunAsync(_stop.Token));
    }

    public ValueTask PushAsync(ReadOnlyMemory<short> samples, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (samples.IsEmpty)
        {
            return ValueTask.CompletedTask;
        }

        var bytes = samples.Length * 2;
        var buffer = ArrayPool<byte>.Shared.Rent(bytes);
        var source = MemoryMarshal.AsBytes(samples.Span);
        if (BitConverter.IsLittleEndian)
        {
            source.CopyTo(buffer);
        }
        else
        {
            for (var i = 0; i < samples.Length; i++)
            {
                BinaryPrimitives.WriteInt16LittleEndian(buffer.AsSpan(i * 2), samples.Span[i]);
            }
        }

        return Enqueue(new Piece(buffer, bytes), cancellationToken);
    }

    public ValueTask EndUtteranceAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return Enqueue(default, cancellationToken);
    }

    public IAsyncEnumerable<SpeechRecognitionResult> Results(CancellationToken cancellationToken) =>
        _results.Reader.ReadAllAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _input.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _worker.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        while (_input.Reader.TryRead(out var piece))
        {
            piece.Return();
        }

        _stop.Dispose();
    }

    private ValueTask Enqueue(Piece piece, CancellationToken cancellationToken) =>
        _input.Writer.TryWrite(piece) ? ValueTask.CompletedTask : EnqueueSlowAsync(piece, cancellationToken);

    private async ValueTask EnqueueSlowAsync(Piece piece, CancellationToken cancellationToken)
    {
        try
        {
            await _input.Writer.WriteAsync(piece, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException closed)
        {
            piece.Return();
            if (Volatile.Read(ref _disposed) != 0)
            {
                throw new ObjectDisposedException(nameof(ParaformerRecognitionStream));
            }

            throw new InvalidOperationException("The Paraformer recognition stream failed; see Results for the cause.", closed.InnerException ?? closed);
        }
        catch
        {
            piece.Return();
            throw;
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        Utterance? current = null;
        try
        {
            var reader = _input.Reader;
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (reader.TryRead(out var piece))
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

                        await _results.Writer.WriteAsync(new SpeechRecognitionResult(text, IsFinal: true), cancellationToken).ConfigureAwait(false);
                        continue;
                    }

                    try
                    {
                        current ??= await Utterance.StartAsync(_pool, _request, _results.Writer, cancellationToken).ConfigureAwait(false);
                        await current.SendAsync(piece.Memory, cancellationToken).ConfigureAwait(false);
                    }
                    finally
                    {
                        piece.Return();
                    }
                }
            }

            _results.Writer.TryComplete();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _results.Writer.TryComplete();
        }
        catch (Exception ex)
        {
            LogFailed(_logger, ex.Message);
            _input.Writer.TryComplete(ex);
            _results.Writer.TryComplete(ex);
        }
        finally
        {
            if (current is not null)
            {
                await current.AbandonAsync().ConfigureAwait(false);
            }
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

        private Utterance(DashScopeConnectionPool pool, DashScopeConnection connection, string taskId, ChannelWriter<SpeechRecognitionResult> results)
        {
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
                ParaformerRecognizerProvider.VendorName, request.ApiKey, taskId, request, static (w, r) => r.WritePayload(w), cancellationToken).ConfigureAwait(false);
            var utterance = new Utterance(pool, connection, taskId, results);
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
                        $"{ParaformerRecognizerProvider.VendorName}: DashScope did not finish the task within {_pool.Options.ResponseTimeout.TotalSeconds:0.#} s of finish-task.",
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
                        throw DashScopeConnectionPool.TaskFailed(ParaformerRecognizerProvider.VendorName, e);
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

    /// <summary>A queued piece of PCM16 bytes in a pooled buffer, or (no buffer) the end of the current utterance.</summary>
    private readonly struct Piece(byte[]? buffer, int length)
    {
        public bool IsEndOfUtterance => buffer is null;

        public ReadOnlyMemory<byte> Memory => buffer.AsMemory(0, length);

        public void Return()
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }
}
