using Parley.Core.Sessions;

namespace Parley.Core.Replies;

/// <summary>
/// The current reply and the replies waiting behind it, by priority. Pure and synchronous: it decides, the session
/// acts (starts, interrupts) under its lock.
/// </summary>
internal sealed class ReplyScheduler
{
    /// <summary>At most this many proactive requests wait (ZEGO: "the maximum number of queues is 5").</summary>
    public const int MaxQueued = 5;

    private readonly List<SpeechHandle> _queue = [];

    public SpeechHandle? Current { get; set; }

    public int QueuedCount => _queue.Count;

    /// <summary>
    /// Whether <paramref name="incoming"/> replaces the current reply (true) or waits behind it (false, queued here
    /// after replies of higher or equal priority). A replacing ClearAndInterrupt request also drops the queue.
    /// </summary>
    public bool Admit(SpeechHandle incoming, SamePriorityOption option)
    {
        if (Current is not { } current)
        {
            return true;
        }

        if (incoming.Priority > current.Priority || (incoming.Priority == current.Priority && option == SamePriorityOption.ClearAndInterrupt))
        {
            if (option == SamePriorityOption.ClearAndInterrupt)
            {
                ClearQueue();
            }

            return true;
        }

        var index = _queue.FindIndex(q => q.Priority < incoming.Priority);
        _queue.Insert(index < 0 ? _queue.Count : index, incoming);
        return false;
    }

    /// <summary>Whether a request of <paramref name="priority"/> would wait (not replace the current reply) while <see cref="MaxQueued"/> already wait.</summary>
    public bool WouldOverflow(ReplyPriority priority, SamePriorityOption option) =>
        Current is { } current
        && !(priority > current.Priority || (priority == current.Priority && option == SamePriorityOption.ClearAndInterrupt))
        && _queue.Count >= MaxQueued;

    /// <summary>Puts a reply at the head of the queue (the user's reply while a reply that may not be interrupted runs).</summary>
    public void PushFront(SpeechHandle handle) => _queue.Insert(0, handle);

    public SpeechHandle? TakeNext()
    {
        if (_queue.Count == 0)
        {
            return null;
        }

        var next = _queue[0];
        _queue.RemoveAt(0);
        return next;
    }

    public void ClearQueue()
    {
        foreach (var queued in _queue)
        {
            queued.Discard();
        }

        _queue.Clear();
    }
}
