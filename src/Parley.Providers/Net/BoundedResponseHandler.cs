using System.Net;

namespace Parley.Providers.Net;

/// <summary>
/// Bounds what a vendor's reply can make Parley hold in memory: an error reply's body is read up to
/// <see cref="MaxErrorBodyBytes"/> (the rest is dropped with the connection), and a successful reply's body is read
/// as a stream of lines (SSE) of which one line and one event (lines up to a blank line) may be at most
/// <see cref="MaxEventBytes"/>; beyond, the read fails with <see cref="ResponseTooLargeException"/>. Without this a
/// 50 MB reply cost ~100 MB (the bytes, then the characters of one line).
/// </summary>
public sealed class BoundedResponseHandler(HttpMessageHandler inner, int maxErrorBodyBytes, int maxEventBytes, string who) : DelegatingHandler(inner)
{
    public int MaxErrorBodyBytes { get; } = maxErrorBodyBytes > 0 ? maxErrorBodyBytes : throw new ArgumentOutOfRangeException(nameof(maxErrorBodyBytes));

    public int MaxEventBytes { get; } = maxEventBytes > 0 ? maxEventBytes : throw new ArgumentOutOfRangeException(nameof(maxEventBytes));

    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken) =>
        throw new NotSupportedException("BoundedResponseHandler is asynchronous only");

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var content = response.Content;
        if (response.IsSuccessStatusCode)
        {
            response.Content = new LineBoundedContent(content, MaxEventBytes, who);
            return response;
        }

        // An error: keep at most MaxErrorBodyBytes of it (enough for any JSON error object).
        try
        {
            var buffer = new byte[MaxErrorBodyBytes];
            var filled = 0;
            await using (var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false))
            {
                int read;
                while (filled < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false)) > 0)
                {
                    filled += read;
                }
            }

            var bounded = new ByteArrayContent(buffer, 0, filled);
            foreach (var header in content.Headers)
            {
                if (!header.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                {
                    bounded.Headers.TryAddWithoutValidation(header.Key, header.Value);
                }
            }

            response.Content = bounded;
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
        {
            // The body broke off: the status is what matters.
            response.Content = new ByteArrayContent([]);
        }
        finally
        {
            content.Dispose();
        }

        return response;
    }

    /// <summary>The body of a successful reply, read through <see cref="LineBoundedStream"/>.</summary>
    private sealed class LineBoundedContent : HttpContent
    {
        private readonly HttpContent _inner;
        private readonly int _maxEventBytes;
        private readonly string _who;

        public LineBoundedContent(HttpContent inner, int maxEventBytes, string who)
        {
            _inner = inner;
            _maxEventBytes = maxEventBytes;
            _who = who;
            foreach (var header in inner.Headers)
            {
                Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            await SerializeToStreamAsync(stream, context, CancellationToken.None).ConfigureAwait(false);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await using var source = await CreateContentReadStreamAsync(cancellationToken).ConfigureAwait(false);
            await source.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
        }

        protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

        protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
            new LineBoundedStream(await _inner.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), _maxEventBytes, _who);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}

/// <summary>
/// A read-only stream that fails once one line (up to CR or LF) or one event (lines up to a blank line, as in SSE)
/// grows past a limit. Counting only: the bytes pass through unchanged.
/// </summary>
public sealed class LineBoundedStream(Stream inner, int maxEventBytes, string who) : Stream
{
    private long _event;
    private long _line;
    private bool _afterCr;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var read = inner.Read(buffer);
        Count(buffer[..read]);
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>Pooled: a streamed reply is read in many small pieces, each otherwise a state machine of its own.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        Count(buffer.Span[..read]);
        return read;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }

    private void Count(ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
        {
            if (b is (byte)'\n' or (byte)'\r')
            {
                var crlf = b == '\n' && _afterCr;
                _afterCr = b == '\r';
                if (crlf)
                {
                    continue;
                }

                if (_line == 0)
                {
                    _event = 0; // a blank line ends the event
                }

                _line = 0;
                continue;
            }

            _afterCr = false;
            _line++;
            if (++_event > maxEventBytes)
            {
                throw new ResponseTooLargeException(_line > maxEventBytes
                    ? $"{who} sent a line longer than {maxEventBytes} bytes"
                    : $"{who} sent an event longer than {maxEventBytes} bytes");
            }
        }
    }
}
