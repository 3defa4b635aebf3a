using System.Text;
using Parley.Providers.Net;

namespace Parley.Providers.Tests.Net;

public sealed class SseEventReaderTests
{
    /// <summary>A stream that hands out at most <c>chunk</c> bytes per read, so lines and line ends split across reads.</summary>
    private sealed class Trickle(byte[] bytes, int chunk) : MemoryStream(bytes)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, chunk)], cancellationToken);
    }

    private static async Task<List<string>> ReadAllAsync(string text, int chunk, int initialBytes = 16)
    {
        using var reader = new SseEventReader(new Trickle(Encoding.UTF8.GetBytes(text), chunk), initialBytes);
        var events = new List<string>();
        while (await reader.ReadAsync(CancellationToken.None))
        {
            events.Add(Encoding.UTF8.GetString(reader.Data));
        }

        return events;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(4096)]
    public async Task Events_AsTheFormatDefinesThem_WhateverTheReadSizes(int chunk)
    {
        const string text =
            ": a comment\n" +
            "event: message\nid: 1\ndata: {\"a\":1}\n\n" +
            "data:no-space\r\n\r\n" +
            "data:  two spaces, one kept\r\rdata: first\ndata: second\n\n" +
            "retry: 100\n\n" +             // no data: no event
            "data\n\n" +                    // a data field with no value: an event whose data is empty
            "data: é and a line longer than the sixteen-byte buffer it starts in\n\n" +
            "data: the last, without its blank line";
        var events = await ReadAllAsync(text, chunk);

        Assert.Equal(
        [
            "{\"a\":1}",
            "no-space",
            " two spaces, one kept",
            "first\nsecond",
            "",
            "é and a line longer than the sixteen-byte buffer it starts in",
            "the last, without its blank line",
        ], events);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4096)]
    public async Task AByteOrderMark_AtTheStart_IsDropped(int chunk)
    {
        Assert.Equal(["x", "y"], await ReadAllAsync("\uFEFFdata: x\n\ndata: y\n\n", chunk));
        Assert.Equal(["\uFEFFy"], await ReadAllAsync("data: \uFEFFy\n\n", chunk)); // elsewhere it is data
    }

    [Fact]
    public async Task AnEmptyStream_HasNoEvents_AndReadingAfterTheEndStaysFalse()
    {
        using var reader = new SseEventReader(new MemoryStream());
        Assert.False(await reader.ReadAsync(CancellationToken.None));
        Assert.False(await reader.ReadAsync(CancellationToken.None));
    }

    [Fact]
    public async Task AfterDispose_ReadingThrows()
    {
        var reader = new SseEventReader(new MemoryStream("data: x\n\n"u8.ToArray()));
        reader.Dispose();
        reader.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await reader.ReadAsync(CancellationToken.None));
    }
}
