using Microsoft.ML.OnnxRuntime;

namespace Parley.Providers.Local;

/// <summary>
/// Scores the windows of many <see cref="BatchedSileroVad"/> sessions as batches on a fixed number of dedicated
/// worker threads over one shared ONNX Runtime session. Submissions queue without waiting for a tick: a worker that
/// becomes free takes every pending window (up to <see cref="SileroVadOptions.MaxBatch"/>) and runs them as one model
/// call with input [B, 576] and per-row state [2, B, 128], so a lone session pays one inference, as unbatched, and
/// many sessions pay one call per batch. Each worker owns a <see cref="SileroBatchRunner"/> (pinned buffers that grow by
/// powers of two, an IO binding per batch size): a batch allocates nothing managed.
/// </summary>
internal sealed class SileroBatchScorer : IDisposable
{
    /// <summary>Floats of one row's state per layer (the state tensor is [2, B, 128]).</summary>
    internal const int StateWidth = 128;

    /// <summary>Rows each worker's buffers hold from the start (they grow by powers of two up to MaxBatch).</summary>
    internal const int InitialRows = 16;

    // A Monitor (not Lock) because the workers wait on it.
    private readonly object _sync = new();
    private readonly int _maxBatch;
    private readonly Thread[] _threads;
    private readonly SileroBatchRunner[] _runners;
    private BatchedSileroVad[] _pending = new BatchedSileroVad[64];
    private int _pendingCount;
    private int _waiting;
    private bool _stopping;
    private long _batches;
    private long _windows;

    public SileroBatchScorer(InferenceSession session, SileroVadOptions options)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.BatchWorkers < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.BatchWorkers, $"{SileroVadOptions.SectionName}:{nameof(SileroVadOptions.BatchWorkers)} must be at least 1 for batched scoring.");
        }

        _maxBatch = options.MaxBatch;
        _runners = new SileroBatchRunner[options.BatchWorkers];
        _threads = new Thread[options.BatchWorkers];
        for (var i = 0; i < _threads.Length; i++)
        {
            _runners[i] = new SileroBatchRunner(session, Math.Min(InitialRows, _maxBatch));
            _threads[i] = new Thread(Work) { IsBackground = true, Name = $"Parley VAD batch {i}" };
        }

        for (var i = 0; i < _threads.Length; i++)
        {
            _threads[i].Start(_runners[i]);
        }
    }

    /// <summary>Model calls made so far.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Windows scored so far (over all batches).</summary>
    public long Windows => Interlocked.Read(ref _windows);

    /// <summary>Managed bytes the worker threads allocated since they started (0 in steady state: the budget test holds it).</summary>
    public long WorkerAllocatedBytes
    {
        get
        {
            long total = 0;
            foreach (var runner in _runners)
            {
                total += runner.AllocatedBytes;
            }

            return total;
        }
    }

    /// <summary>Queues a row (its status already Queued) for the next free worker.</summary>
    public void Enqueue(BatchedSileroVad row)
    {
        lock (_sync)
        {
            if (_stopping)
            {
                row.Fail(new ObjectDisposedException(nameof(SileroVadFactory)), queued: true);
                return;
            }

            if (_pendingCount == _pending.Length)
            {
                Array.Resize(ref _pending, _pending.Length * 2);
            }

            _pending[_pendingCount++] = row;
            if (_waiting > 0)
            {
                Monitor.Pulse(_sync);
            }
        }
    }

    /// <summary>Stops the workers (a batch in flight finishes) and fails the windows still queued.</summary>
    public void Dispose()
    {
        lock (_sync)
        {
            if (_stopping)
            {
                return;
            }

            _stopping = true;
            Monitor.PulseAll(_sync);
        }

        foreach (var thread in _threads)
        {
            if (thread != Thread.CurrentThread)
            {
                thread.Join();
            }
        }

        BatchedSileroVad[] left;
        lock (_sync)
        {
            left = _pending[.._pendingCount];
            Array.Clear(_pending);
            _pendingCount = 0;
        }

        foreach (var row in left)
        {
            row.Fail(new ObjectDisposedException(nameof(SileroVadFactory)), queued: true);
        }

        foreach (var runner in _runners)
        {
            runner.Dispose();
        }
    }

    private void Work(object? state)
    {
        var runner = (SileroBatchRunner)state!;
        var taken = new BatchedSileroVad[_maxBatch];
        while (true)
        {
            int n;
            lock (_sync)
            {
                while (_pendingCount == 0 && !_stopping)
                {
                    _waiting++;
                    Monitor.Wait(_sync);
                    _waiting--;
                }

                if (_stopping)
                {
                    return;
                }

                // Everything pending, oldest first; what does not fit stays queued for the next free worker.
                n = Math.Min(_pendingCount, _maxBatch);
                Array.Copy(_pending, taken, n);
                Array.Copy(_pending, n, _pending, 0, _pendingCount - n);
                Array.Clear(_pending, _pendingCount - n, n);
                _pendingCount -= n;
                if (_pendingCount > 0 && _waiting > 0)
                {
                    Monitor.Pulse(_sync);
                }
            }

            var scored = runner.Run(taken.AsSpan(0, n));
            Array.Clear(taken, 0, n);
            if (scored > 0)
            {
                Interlocked.Increment(ref _batches);
                Interlocked.Add(ref _windows, scored);
            }
        }
    }
}
