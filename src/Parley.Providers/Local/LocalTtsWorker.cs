namespace Parley.Providers.Local;

/// <summary>
/// A dedicated thread that owns one native TTS engine. flite voices and the espeak-ng library are
/// process-wide native state that is not thread-safe, so every call into the engine happens on this thread.
/// Requests are served one sentence at a time in round-robin order, so concurrent sessions share the engine
/// fairly (each engine synthesises far faster than real time). Limit: one sentence at a time per engine
/// per process.
/// </summary>
internal abstract class LocalTtsWorker
{
    private readonly Queue<LocalTtsRequest> _queue = new();
    private readonly object _gate = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _busy;
    private long _sentences;

    protected LocalTtsWorker(string name)
    {
        var thread = new Thread(Run) { IsBackground = true, Name = name };
        thread.Start();
    }

    /// <summary>True when no request is queued and the engine is not synthesising.</summary>
    internal bool IsIdle
    {
        get
        {
            lock (_gate)
            {
                return _queue.Count == 0 && !_busy;
            }
        }
    }

    /// <summary>Sentences this engine has started synthesising since the process started.</summary>
    internal long SentencesStarted => Interlocked.Read(ref _sentences);

    /// <summary>Why the engine could not start, or null once it is ready. Blocks until initialisation ends.</summary>
    public string? StartupError
    {
        get
        {
            try
            {
                _ready.Task.GetAwaiter().GetResult();
                return null;
            }
            catch (Exception error)
            {
                return error.Message;
            }
        }
    }

    public void Enqueue(LocalTtsRequest request)
    {
        lock (_gate)
        {
            _queue.Enqueue(request);
            Monitor.Pulse(_gate);
        }
    }

    /// <summary>Loads the native engine; runs on the worker thread.</summary>
    protected abstract void Initialize();

    /// <summary>Synthesises one sentence, writing audio to the request as it is produced; runs on the worker thread.</summary>
    protected abstract void Synthesize(LocalTtsRequest request, string sentence);

    private void Run()
    {
        try
        {
            Initialize();
            _ready.SetResult();
        }
        catch (Exception error)
        {
            _ready.SetException(error);
        }

        while (true)
        {
            LocalTtsRequest request;
            lock (_gate)
            {
                while (_queue.Count == 0)
                {
                    _busy = false;
                    Monitor.Wait(_gate);
                }

                request = _queue.Dequeue();
                _busy = true;
            }

            if (_ready.Task.IsFaulted)
            {
                request.Complete(new InvalidOperationException(StartupError));
                continue;
            }

            try
            {
                if (!request.IsCancelled && request.NextSentence < request.Sentences.Count)
                {
                    Interlocked.Increment(ref _sentences);
                    Synthesize(request, request.Sentences[request.NextSentence++]);
                }
            }
            catch (Exception error)
            {
                request.Complete(error);
                continue;
            }

            if (request.IsCancelled || request.NextSentence >= request.Sentences.Count)
            {
                request.Complete();
            }
            else
            {
                lock (_gate)
                {
                    _queue.Enqueue(request);
                }
            }
        }
    }
}
