using System.Collections.Concurrent;
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
/// <remarks>
/// Submitting takes no lock: the windows go into a lock-free queue, and a worker is woken only when one is idle. With a
/// lock every session's window (hundreds a second) queued behind it, and on two busy cores a holder that lost its core
/// kept all of them waiting (the thread-time profile at 100 sessions had pipelines blocked there ~6 thread-seconds in
/// 15 s). An idle worker announces itself (<c>_idle</c>), checks the queue once more, then sleeps on the semaphore;
/// a submitter that finds an announced worker takes one announcement and releases the semaphore once, so no wake-up is
/// lost and none is spent on a busy worker.
/// </remarks>
internal sealed class SileroBatchScorer : IDisposable
{
    /// <summary>Floats of one row's state per layer (the state tensor is [2, B, 128]).</summary>
    internal const int StateWidth = 128;

    /// <summary>Rows each worker's buffers hold from the start (they grow by powers of two up to MaxBatch).</summary>
    internal const int InitialRows = 16;

    private readonly ConcurrentQueue<BatchedSileroVad> _pending = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly int _maxBatch;
    private readonly Thread[] _threads;
    private readonly SileroBatchRunner[] _runners;
    private int _idle; // workers announced idle that no submitter has woken yet
    private volatile bool _stopping;
    private int _disposed;
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
        if (_stopping)
        {
            row.Fail(new ObjectDisposedException(nameof(SileroVadFactory)), queued: true);
            return;
        }

        _pending.Enqueue(row);
        if (_stopping)
        {
            FailPending(); // raced with Dispose, whose workers may be gone: fail what nobody will take
            return;
        }

        WakeOne();
    }

    /// <summary>Stops the workers (a batch in flight finishes) and fails the windows still queued.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stopping = true;
        _wake.Release(_threads.Length); // not disposed: a submitter racing with this may still release it
        foreach (var thread in _threads)
        {
            if (thread != Thread.CurrentThread)
            {
                thread.Join();
            }
        }

        FailPending();
        foreach (var runner in _runners)
        {
            runner.Dispose();
        }
    }

    private void FailPending()
    {
        while (_pending.TryDequeue(out var row))
        {
            row.Fail(new ObjectDisposedException(nameof(SileroVadFactory)), queued: true);
        }
    }

    /// <summary>Takes one idle worker's announcement, if any; true when taken.</summary>
    private bool TryTakeIdle()
    {
        var idle = Volatile.Read(ref _idle);
        while (idle > 0)
        {
            var seen = Interlocked.CompareExchange(ref _idle, idle - 1, idle);
            if (seen == idle)
            {
                return true;
            }

            idle = seen;
        }

        return false;
    }

    private void WakeOne()
    {
        if (TryTakeIdle())
        {
            _wake.Release();
        }
    }

    private void Work(object? state)
    {
        var runner = (SileroBatchRunner)state!;
        var taken = new BatchedSileroVad[_maxBatch];
        while (!_stopping)
        {
            // Everything pending, oldest first; what does not fit stays queued for the next free worker.
            var n = 0;
            while (n < taken.Length && _pending.TryDequeue(out var row))
            {
                taken[n++] = row;
            }

            if (n == 0)
            {
                Interlocked.Increment(ref _idle);
                if (!_pending.IsEmpty || _stopping)
                {
                    // Work came (or the stop) between the last look and the announcement: take the announcement back,
                    // or, when a submitter already took it, consume the wake-up it released.
                    if (!TryTakeIdle())
                    {
                        _wake.Wait();
                    }

                    continue;
                }

                _wake.Wait();
                continue;
            }

            if (!_pending.IsEmpty)
            {
                WakeOne(); // more than one batch's worth: another idle worker takes the rest
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
