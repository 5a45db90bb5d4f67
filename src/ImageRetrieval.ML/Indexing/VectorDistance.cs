using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Numerics.Tensors;

namespace ImageRetrieval.ML.Indexing;

/// <summary>
/// Distance kernels over raw pointers: the HNSW hot path calls one of these per visited node.
/// Hand-written <see cref="Vector512"/>/<see cref="Vector256"/> loops with four independent FMA
/// accumulators (so the adds are not one long dependency chain), a scalar tail, no bounds checks.
/// </summary>
internal static unsafe class VectorDistance
{
    /// <summary>Squared L2 distance.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float SquaredL2(float* a, float* b, int n) => SquaredL2Inline(a, b, n);

    /// <summary>Squared L2 distance between two float32 vectors given as bytes (the HNSW index's storage-neutral kernel shape).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float SquaredL2Bytes(byte* a, byte* b, int n) => SquaredL2Inline((float*)a, (float*)b, n);

    /// <summary>Inner-product distance <c>1 − a·b</c> between two float32 vectors given as bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float InnerProductDistanceBytes(byte* a, byte* b, int n) => 1f - DotInline((float*)a, (float*)b, n);

    /// <summary>Squared L2 for callers that want the loop inlined (the HNSW search loop).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float SquaredL2Inline(float* a, float* b, int n)
    {
        int i = 0;
        float sum = 0;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (; i + 64 <= n; i += 64)
            {
                var d0 = Vector512.Load(a + i) - Vector512.Load(b + i);
                var d1 = Vector512.Load(a + i + 16) - Vector512.Load(b + i + 16);
                var d2 = Vector512.Load(a + i + 32) - Vector512.Load(b + i + 32);
                var d3 = Vector512.Load(a + i + 48) - Vector512.Load(b + i + 48);
                s0 = Vector512.FusedMultiplyAdd(d0, d0, s0);
                s1 = Vector512.FusedMultiplyAdd(d1, d1, s1);
                s2 = Vector512.FusedMultiplyAdd(d2, d2, s2);
                s3 = Vector512.FusedMultiplyAdd(d3, d3, s3);
            }
            for (; i + 16 <= n; i += 16)
            {
                var d = Vector512.Load(a + i) - Vector512.Load(b + i);
                s0 = Vector512.FusedMultiplyAdd(d, d, s0);
            }
            sum = Vector512.Sum((s0 + s1) + (s2 + s3));
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (; i + 32 <= n; i += 32)
            {
                var d0 = Vector256.Load(a + i) - Vector256.Load(b + i);
                var d1 = Vector256.Load(a + i + 8) - Vector256.Load(b + i + 8);
                var d2 = Vector256.Load(a + i + 16) - Vector256.Load(b + i + 16);
                var d3 = Vector256.Load(a + i + 24) - Vector256.Load(b + i + 24);
                s0 = Fma256(d0, d0, s0);
                s1 = Fma256(d1, d1, s1);
                s2 = Fma256(d2, d2, s2);
                s3 = Fma256(d3, d3, s3);
            }
            for (; i + 8 <= n; i += 8)
            {
                var d = Vector256.Load(a + i) - Vector256.Load(b + i);
                s0 = Fma256(d, d, s0);
            }
            sum = Vector256.Sum((s0 + s1) + (s2 + s3));
        }
        for (; i < n; i++)
        {
            float d = a[i] - b[i];
            sum += d * d;
        }
        return sum;
    }

    /// <summary>Dot product.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot(float* a, float* b, int n) => DotInline(a, b, n);

    /// <summary>Dot product for callers that want the loop inlined.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float DotInline(float* a, float* b, int n)
    {
        int i = 0;
        float sum = 0;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (; i + 64 <= n; i += 64)
            {
                s0 = Vector512.FusedMultiplyAdd(Vector512.Load(a + i), Vector512.Load(b + i), s0);
                s1 = Vector512.FusedMultiplyAdd(Vector512.Load(a + i + 16), Vector512.Load(b + i + 16), s1);
                s2 = Vector512.FusedMultiplyAdd(Vector512.Load(a + i + 32), Vector512.Load(b + i + 32), s2);
                s3 = Vector512.FusedMultiplyAdd(Vector512.Load(a + i + 48), Vector512.Load(b + i + 48), s3);
            }
            for (; i + 16 <= n; i += 16)
            {
                s0 = Vector512.FusedMultiplyAdd(Vector512.Load(a + i), Vector512.Load(b + i), s0);
            }
            sum = Vector512.Sum((s0 + s1) + (s2 + s3));
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (; i + 32 <= n; i += 32)
            {
                s0 = Fma256(Vector256.Load(a + i), Vector256.Load(b + i), s0);
                s1 = Fma256(Vector256.Load(a + i + 8), Vector256.Load(b + i + 8), s1);
                s2 = Fma256(Vector256.Load(a + i + 16), Vector256.Load(b + i + 16), s2);
                s3 = Fma256(Vector256.Load(a + i + 24), Vector256.Load(b + i + 24), s3);
            }
            for (; i + 8 <= n; i += 8)
            {
                s0 = Fma256(Vector256.Load(a + i), Vector256.Load(b + i), s0);
            }
            sum = Vector256.Sum((s0 + s1) + (s2 + s3));
        }
        for (; i < n; i++)
        {
            sum += a[i] * b[i];
        }
        return sum;
    }

    /// <summary>Inner-product distance <c>1 − a·b</c> (also cosine distance once both sides are unit length).</summary>
    public static float InnerProductDistance(float* a, float* b, int n) => 1f - Dot(a, b, n);

    /// <summary>The kernel for a metric (cosine uses the inner product: vectors are normalised on the way in).</summary>
    public static delegate*<float*, float*, int, float> For(DistanceMetric metric) => metric switch
    {
        DistanceMetric.SquaredL2 => &SquaredL2,
        DistanceMetric.InnerProduct or DistanceMetric.Cosine => &InnerProductDistance,
        _ => throw new ArgumentOutOfRangeException(nameof(metric), metric, "Unknown distance metric."),
    };

    /// <summary>The float32 kernel for a metric over byte pointers (see <see cref="QuantizedDistance.Kernel"/> for the compressed forms).</summary>
    public static delegate*<byte*, byte*, int, float> ForBytes(DistanceMetric metric) => metric switch
    {
        DistanceMetric.SquaredL2 => &SquaredL2Bytes,
        DistanceMetric.InnerProduct or DistanceMetric.Cosine => &InnerProductDistanceBytes,
        _ => throw new ArgumentOutOfRangeException(nameof(metric), metric, "Unknown distance metric."),
    };

    /// <summary>Scales <paramref name="v"/> to unit length in place (a zero vector stays zero).</summary>
    public static void Normalize(Span<float> v)
    {
        float norm = TensorPrimitives.Norm(v);
        if (norm > 0 && float.IsFinite(norm))
        {
            TensorPrimitives.Divide(v, norm, v);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fma256(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
        Fma.IsSupported ? Fma.MultiplyAdd(a, b, c) : (a * b) + c;
}
