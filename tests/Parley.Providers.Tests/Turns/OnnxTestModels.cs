using System.Text;

namespace Parley.Providers.Tests.Turns;

/// <summary>
/// Writes tiny ONNX models at test time, as protobuf by hand (no model ships with Parley, and no ONNX tooling is
/// needed). Field numbers from onnx/onnx <c>onnx/onnx.proto</c>: ModelProto {ir_version 1, graph 7, opset_import 8},
/// OperatorSetIdProto {domain 1, version 2}, GraphProto {node 1, name 2, initializer 5, input 11, output 12},
/// NodeProto {input 1, output 2, name 3, op_type 4, attribute 5}, AttributeProto {name 1, i 3, ints 8, type 20
/// (INT 2, INTS 7)}, TensorProto {dims 1, data_type 2 (FLOAT 1), float_data 4, name 8}, ValueInfoProto {name 1,
/// type 2}, TypeProto {tensor_type 1}, TypeProto.Tensor {elem_type 1, shape 2}, TensorShapeProto {dim 1},
/// Dimension {dim_value 1}.
/// </summary>
internal static class OnnxTestModels
{
    /// <summary>
    /// A Smart Turn v3-shaped model: <c>input_features</c> float [1, 80, 800] → ReduceMean over the mel and frame
    /// axes → × <paramref name="weight"/> + <paramref name="bias"/> → Sigmoid → <c>probability</c> [1].
    /// </summary>
    public static byte[] MeanSigmoid(float weight, float bias, string inputName = "input_features", long frames = 800)
    {
        var graph = new Proto()
            .Message(1, Node([inputName], ["mean"], "ReduceMean", new Proto().String(1, "axes").Varint(20, 7).Packed(8, [1, 2]), new Proto().String(1, "keepdims").Varint(20, 2).Varint(3, 0)))
            .Message(1, Node(["mean", "w"], ["scaled"], "Mul"))
            .Message(1, Node(["scaled", "b"], ["logit"], "Add"))
            .Message(1, Node(["logit"], ["probability"], "Sigmoid"))
            .String(2, "smart_turn_test")
            .Message(5, Scalar("w", weight))
            .Message(5, Scalar("b", bias))
            .Message(11, ValueInfo(inputName, [1, 80, frames]))
            .Message(12, ValueInfo("probability", [1]));
        return new Proto()
            .Varint(1, 7)
            .Message(7, graph)
            .Message(8, new Proto().String(1, "").Varint(2, 13))
            .ToArray();
    }

    private static Proto Node(string[] inputs, string[] outputs, string op, params Proto[] attributes)
    {
        var node = new Proto();
        foreach (var i in inputs)
        {
            node.String(1, i);
        }

        foreach (var o in outputs)
        {
            node.String(2, o);
        }

        node.String(3, op + "_" + outputs[0]).String(4, op);
        foreach (var a in attributes)
        {
            node.Message(5, a);
        }

        return node;
    }

    private static Proto Scalar(string name, float value) => new Proto().Varint(2, 1).Fixed32s(4, [value]).String(8, name);

    private static Proto ValueInfo(string name, long[] dims)
    {
        var shape = new Proto();
        foreach (var d in dims)
        {
            shape.Message(1, new Proto().Varint(1, (ulong)d));
        }

        return new Proto().String(1, name).Message(2, new Proto().Message(1, new Proto().Varint(1, 1).Message(2, shape)));
    }

    /// <summary>A protobuf message being written (wire types 0 varint, 2 length-delimited, 5 fixed32).</summary>
    private sealed class Proto
    {
        private readonly MemoryStream _bytes = new();
        public Proto Varint(int field, ulong value)
        {
            Tag(field, 0);
            Raw(value);
            return this;
        }

        public Proto String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public Proto Message(int field, Proto message) => Bytes(field, message.ToArray());

        public Proto Packed(int field, long[] values)
        {
            var packed = new Proto();
            foreach (var v in values)
            {
                packed.Raw((ulong)v);
            }

            return Bytes(field, packed.ToArray());
        }

        public Proto Fixed32s(int field, float[] values)
        {
            var packed = new byte[values.Length * 4];
            for (var i = 0; i < values.Length; i++)
            {
                BitConverter.TryWriteBytes(packed.AsSpan(i * 4), values[i]);
            }

            return Bytes(field, packed);
        }

        public byte[] ToArray() => _bytes.ToArray();

        private Proto Bytes(int field, byte[] value)
        {
            Tag(field, 2);
            Raw((ulong)value.Length);
            _bytes.Write(value);
            return this;
        }

        private void Tag(int field, int wire) => Raw(((ulong)field << 3) | (uint)wire);

        private void Raw(ulong value)
        {
            while (value >= 0x80)
            {
                _bytes.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }

            _bytes.WriteByte((byte)value);
        }
    }
}
