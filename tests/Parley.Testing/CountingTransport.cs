using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Parley.Testing;

/// <summary>
/// Counts the bytes a Kestrel server hands to its sockets (after the HTTP layer, which silently drops writes once a
/// client has gone): what a client could actually have received, bounded by what it read plus the sockets' buffers.
/// </summary>
public sealed class CountingTransport
{
    private long _sent;

    public long BytesSent => Interlocked.Read(ref _sent);

    /// <summary>Adds the counting connection middleware to a listen endpoint.</summary>
    public void Apply(ListenOptions listen) => listen.Use(next => context =>
    {
        context.Transport = new Pipe(context.Transport, this);
        return next(context);
    });

    private sealed class Pipe(IDuplexPipe inner, CountingTransport owner) : IDuplexPipe
    {
        public PipeReader Input => inner.Input;

        public PipeWriter Output { get; } = new CountingWriter(inner.Output, owner);
    }

    private sealed class CountingWriter(PipeWriter inner, CountingTransport owner) : PipeWriter
    {
        public override void Advance(int bytes)
        {
            Interlocked.Add(ref owner._sent, bytes);
            inner.Advance(bytes);
        }

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);
    }
}
