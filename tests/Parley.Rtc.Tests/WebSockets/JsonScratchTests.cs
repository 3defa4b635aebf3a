using System.Text;
using System.Text.Json;

namespace Parley.Rtc.Tests.WebSockets;

public sealed class JsonScratchTests
{
    [Fact]
    public void Build_ReusesTheThreadsWriter_AndEachResultIsItsOwn()
    {
        var first = JsonScratch.Build(static (w, s) => w.WriteString("A", s), "one");
        var second = JsonScratch.Build(static (w, s) => w.WriteNumber("B", s), 2);
        Assert.Equal("""{"A":"one"}""", Encoding.UTF8.GetString(first));
        Assert.Equal("""{"B":2}""", Encoding.UTF8.GetString(second));

        static byte[] Third() => JsonScratch.Build(static (w, s) => w.WriteNumber("C", s), 3);
        Third(); // the lambda's delegate is created and cached on first use
        var before = GC.GetAllocatedBytesForCurrentThread();
        var third = Third();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal("""{"C":3}""", Encoding.UTF8.GetString(third));
        Assert.InRange(allocated, 1, 40); // the 7-byte result only (32 bytes with its header): no writer, no buffer
    }

    [Fact]
    public void Build_Nested_AndAfterAFailure_AndAfterAHugeMessage_StaysCorrect()
    {
        var outer = JsonScratch.Build(static (w, _) =>
        {
            var inner = JsonScratch.Build(static (w2, _) => w2.WriteString("In", "x"), 0);
            w.WriteString("Inner", Encoding.UTF8.GetString(inner));
            w.WriteNumber("N", 1);
        }, 0);
        Assert.Equal("""{"Inner":"{\u0022In\u0022:\u0022x\u0022}","N":1}""", Encoding.UTF8.GetString(outer));

        Assert.Throws<InvalidOperationException>(() => JsonScratch.Build(static (_, _) => throw new InvalidOperationException("boom"), 0));
        Assert.Throws<InvalidOperationException>(() => JsonScratch.Build(static (w, _) => w.WriteEndArray(), 0)); // invalid JSON
        Assert.Equal("""{"Ok":true}""", Encoding.UTF8.GetString(JsonScratch.Build(static (w, _) => w.WriteBoolean("Ok", true), 0)));

        var huge = new string('a', JsonScratch.MaxKeptBytes * 2);
        var big = JsonScratch.Build(static (w, s) => w.WriteString("Text", s), huge);
        Assert.Equal(huge, JsonDocument.Parse(big).RootElement.GetProperty("Text").GetString());
        Assert.Equal("""{"Ok":1}""", Encoding.UTF8.GetString(JsonScratch.Build(static (w, _) => w.WriteNumber("Ok", 1), 0)));
    }
}
