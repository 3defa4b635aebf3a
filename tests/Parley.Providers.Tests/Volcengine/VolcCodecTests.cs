using System.Buffers;
using System.Text;
using Parley.Providers.Volcengine;
using Parley.Testing.Fakes.Volcengine;

namespace Parley.Providers.Tests.Volcengine;

public sealed class VolcCodecTests
{
    [Fact]
    public void SessionEvent_RoundTrips_AndMatchesTheDocumentedLayout()
    {
        var buffer = new ArrayBufferWriter<byte>();
        VolcCodec.Write(buffer, VolcMessageType.FullClientRequest, VolcFlags.WithEvent, json: true, """{"a":1}"""u8, VolcEvent.StartSession, "sess-1");
        var bytes = buffer.WrittenSpan.ToArray();

        // 0x11 (v1, 4-byte header), 0x14 (full-client request, with event), 0x10 (JSON, no compression), 0x00.
        Assert.Equal(new byte[] { 0x11, 0x14, 0x10, 0x00, 0, 0, 0, 100, 0, 0, 0, 6 }, bytes[..12]);
        var fake = FakeVolcCodec.Parse(bytes);
        Assert.Equal((100, "sess-1", """{"a":1}"""), (fake.Event, fake.SessionId, fake.Text));

        var frame = VolcCodec.TryRead(bytes, new ArrayBufferWriter<byte>(), 1 << 20, out var error)!.Value;
        Assert.Null(error);
        Assert.Equal((VolcMessageType.FullClientRequest, VolcEvent.StartSession, "sess-1"), (frame.Type, frame.Event, frame.SessionId));
        Assert.Equal("""{"a":1}""", frame.PayloadText);
    }

    [Fact]
    public void ConnectionEvents_CarryNoSessionId_ServerOnesCarryTheConnectionId()
    {
        var buffer = new ArrayBufferWriter<byte>();
        VolcCodec.Write(buffer, VolcMessageType.FullClientRequest, VolcFlags.WithEvent, json: true, "{}"u8, VolcEvent.StartConnection);
        Assert.Equal(new byte[] { 0x11, 0x14, 0x10, 0x00, 0, 0, 0, 1, 0, 0, 0, 2, (byte)'{', (byte)'}' }, buffer.WrittenSpan.ToArray());

        var started = FakeVolcCodec.Event(50, null, "{}"u8.ToArray(), connectId: "conn-7");
        var frame = VolcCodec.TryRead(started, new ArrayBufferWriter<byte>(), 1 << 20, out _)!.Value;
        Assert.Equal((VolcEvent.ConnectionStarted, "conn-7", (string?)null), (frame.Event, frame.ConnectId, frame.SessionId));
    }

    [Fact]
    public void GzipSequencedAsrFrames_RoundTrip_WithTheNegativeLastSequence()
    {
        var buffer = new ArrayBufferWriter<byte>();
        var json = Encoding.UTF8.GetBytes("""{"user":{"uid":"u"},"audio":{"format":"pcm"}}""");
        VolcCodec.Write(buffer, VolcMessageType.FullClientRequest, VolcFlags.PositiveSequence, json: true, json, sequence: 1, gzip: true);
        var parsed = FakeVolcCodec.Parse(buffer.WrittenSpan.ToArray());
        Assert.Equal((1, 0b0001, 1, 1, 1), (parsed.Type, parsed.Flags, parsed.Serialization, parsed.Compression, parsed.Sequence));
        Assert.Equal(json, parsed.Payload);

        var last = FakeVolcCodec.Build(FakeVolcCodec.FullServerResponse, 0b0011, 1, """{"result":{"text":"hi"}}"""u8.ToArray(), sequence: -5, gzip: true);
        var frame = VolcCodec.TryRead(last, new ArrayBufferWriter<byte>(), 1 << 20, out _)!.Value;
        Assert.True(frame.IsLast);
        Assert.Equal(-5, frame.Sequence);
        Assert.Equal("hi", VolcSeedRecognitionStream.ResultText(frame.Payload));
    }

    [Fact]
    public void ErrorFrame_CarriesTheCode()
    {
        var frame = VolcCodec.TryRead(FakeVolcCodec.ErrorFrame(45000000, "quota exceeded for types: concurrency"), new ArrayBufferWriter<byte>(), 1 << 20, out _)!.Value;
        Assert.Equal(VolcMessageType.Error, frame.Type);
        Assert.Equal(45000000u, frame.ErrorCode);
        Assert.Equal(VolcengineErrorKind.RateLimited, VolcengineException.KindOfV3(frame.ErrorCode, "quota exceeded for types: concurrency"));
        Assert.Equal(VolcengineErrorKind.Unauthorized, VolcengineException.KindOfV3(45000000, "speaker permission denied: get resource id: access denied"));
        Assert.Equal(VolcengineErrorKind.ServerError, VolcengineException.KindOfV3(55000000, "internal"));
    }

    [Theory]
    [InlineData(new byte[] { 0x11, 0x90 })]
    [InlineData(new byte[] { 0x21, 0x90, 0x10, 0x00, 0, 0, 0, 0 })]
    [InlineData(new byte[] { 0x11, 0x90, 0x10, 0x00, 0, 0, 0, 9, 1, 2 })]
    [InlineData(new byte[] { 0x11, 0x94, 0x10, 0x00, 0, 0, 0, 150, 0, 0, 1, 0 })]
    [InlineData(new byte[] { 0x11, 0x90, 0x11, 0x00, 0, 0, 0, 3, 1, 2, 3 })]
    public void MalformedFrames_AreRefusedWithAReason(byte[] bytes)
    {
        Assert.Null(VolcCodec.TryRead(bytes, new ArrayBufferWriter<byte>(), 1 << 20, out var error));
        Assert.False(string.IsNullOrEmpty(error));
    }
}
