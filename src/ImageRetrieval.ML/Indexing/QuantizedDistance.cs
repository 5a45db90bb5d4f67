using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ImageRetrieval.ML.Indexing;

/// <summary>Which SIMD width a kernel runs at (tests run every width the machine has against the scalar reference).</summary>
internal enum SimdWidth
{
    Scalar = 0,
    V128 = 128,  // portable Vector128: SSE on x86, NEON (AdvSimd) on Arm64
    V256 = 256,  // AVX2 (+ FMA)
    V512 = 512,  // AVX-512 F/BW
}

/// <summary>
/// Encoding and distance kernels of the compressed vector forms (<see cref="VectorType.Float16"/>,
/// <see cref="VectorType.Int8"/>), over raw pointers like <see cref="VectorDistance"/>. Every kernel exists at each
/// SIMD width with a scalar fallback; <see cref="Best"/> is the widest the machine accelerates.
/// </summary>
/// <remarks>
/// <para>Float16: values widen to float32 in registers by bit manipulation (sign-extend the 16 bits to 32, shift the
/// exponent and mantissa into place, clear the replicated sign bits, multiply by 2¹¹²: exact for normal and subnormal
/// halves; ±∞/NaN are never stored). The query side stays float32.</para>
/// <para>Int8: layout per vector = <c>dim</c> signed codes, padding to 4 bytes, one float32 scale. Searches compare the
/// float32 query with the codes (asymmetric: only the stored side is quantised); between two stored vectors (inserts), with
/// <c>x̂ = s·c</c>: squared L2 = <c>sa²·Σca² + sb²·Σcb² − 2·sa·sb·Σca·cb</c> and the dot product = <c>sa·sb·Σca·cb</c>, where
/// the three sums are exact int32 (|c| ≤ 127, dim ≤ 65536: ≤ 1.07e9) computed with 16-bit multiply-adds
/// (<c>vpmaddwd</c> at 512 and 256 bits, widening multiplies on Vector128/NEON).</para>
/// </remarks>
internal static unsafe class QuantizedDistance
{
    public const float HalfMax = 65504f;
    private const float TwoPow112 = 5.192296858534828e33f; // 2^112: half exponent bias 15 → float bias 127

    /// <summary>The widest SIMD width accelerated here.</summary>
    public static readonly SimdWidth Best =
        Vector512.IsHardwareAccelerated && Avx512BW.IsSupported ? SimdWidth.V512
        : Avx2.IsSupported ? SimdWidth.V256
        : Vector128.IsHardwareAccelerated ? SimdWidth.V128
        : SimdWidth.Scalar;

    /// <summary>Whether kernels of <paramref name="width"/> can run on this machine.</summary>
    public static bool IsSupported(SimdWidth width) => width switch
    {
        SimdWidth.V512 => Vector512.IsHardwareAccelerated && Avx512BW.IsSupported,
        SimdWidth.V256 => Avx2.IsSupported,
        SimdWidth.V128 => Vector128.IsHardwareAccelerated,
        _ => true,
    };

    /// <summary>Bytes one stored vector takes (a multiple of 4, so the sections after the vectors stay aligned).</summary>
    public static int StoredBytes(VectorType type, int dim) => type switch
    {
        VectorType.Float32 => dim * sizeof(float),
        VectorType.Float16 => ((dim * 2) + 3) & ~3,
        VectorType.Int8 => Int8ScaleOffset(dim) + sizeof(float),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown vector type."),
    };

    /// <summary>Offset of the float32 scale after the codes of an int8 vector.</summary>
    public static int Int8ScaleOffset(int dim) => (dim + 3) & ~3;

    // ------------------------------------------------------------------ encoding

    /// <summary>Rounds to half precision (nearest even). The caller has checked |x| ≤ <see cref="HalfMax"/>.</summary>
    public static void EncodeHalf(ReadOnlySpan<float> source, byte* destination)
    {
        var dst = (Half*)destination;
        for (int i = 0; i < source.Length; i++)
        {
            dst[i] = (Half)source[i];
        }
    }

    public static void DecodeHalf(byte* source, Span<float> destination)
    {
        var src = (Half*)source;
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = (float)src[i];
        }
    }

    /// <summary>Symmetric per-vector quantisation: codes round(x / s) with s = max|x| / 127, then the scale.</summary>
    public static void EncodeInt8(ReadOnlySpan<float> source, byte* destination)
    {
        float max = 0;
        foreach (float x in source)
        {
            max = Math.Max(max, Math.Abs(x));
        }
        float scale = max / 127f;
        float inverse = scale > 0 ? 1f / scale : 0;
        var codes = (sbyte*)destination;
        for (int i = 0; i < source.Length; i++)
        {
            codes[i] = (sbyte)Math.Clamp(MathF.Round(source[i] * inverse, MidpointRounding.ToEven), -127f, 127f);
        }
        int offset = Int8ScaleOffset(source.Length);
        for (int i = source.Length; i < offset; i++)
        {
            codes[i] = 0;
        }
        Unsafe.WriteUnaligned(destination + offset, scale);
    }

    public static void DecodeInt8(byte* source, Span<float> destination)
    {
        float scale = Unsafe.ReadUnaligned<float>(source + Int8ScaleOffset(destination.Length));
        var codes = (sbyte*)source;
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = codes[i] * scale;
        }
    }

    // ------------------------------------------------------------------ kernel tables

    /// <summary>The distance kernel between two stored vectors, or between a prepared query and a stored vector (<paramref name="query"/>).</summary>
    public static delegate*<byte*, byte*, int, float> Kernel(VectorType type, DistanceMetric metric, bool query, SimdWidth width)
    {
        bool l2 = metric == DistanceMetric.SquaredL2;
        return type switch
        {
            VectorType.Float16 => (query, l2, width) switch
            {
                (true, true, SimdWidth.V512) => &Half512<FloatLoad, L2Op>,
                (true, true, SimdWidth.V256) => &Half256<FloatLoad, L2Op>,
                (true, true, SimdWidth.V128) => &Half128<FloatLoad, L2Op>,
                (true, true, _) => &HalfScalar<FloatLoad, L2Op>,
                (true, false, SimdWidth.V512) => &Half512<FloatLoad, DotOp>,
                (true, false, SimdWidth.V256) => &Half256<FloatLoad, DotOp>,
                (true, false, SimdWidth.V128) => &Half128<FloatLoad, DotOp>,
                (true, false, _) => &HalfScalar<FloatLoad, DotOp>,
                (false, true, SimdWidth.V512) => &Half512<HalfLoad, L2Op>,
                (false, true, SimdWidth.V256) => &Half256<HalfLoad, L2Op>,
                (false, true, SimdWidth.V128) => &Half128<HalfLoad, L2Op>,
                (false, true, _) => &HalfScalar<HalfLoad, L2Op>,
                (false, false, SimdWidth.V512) => &Half512<HalfLoad, DotOp>,
                (false, false, SimdWidth.V256) => &Half256<HalfLoad, DotOp>,
                (false, false, SimdWidth.V128) => &Half128<HalfLoad, DotOp>,
                (false, false, _) => &HalfScalar<HalfLoad, DotOp>,
            },
            VectorType.Int8 when query => (l2, width) switch
            {
                (true, SimdWidth.V512) => &Int8Query512<L2Op>,
                (true, SimdWidth.V256) => &Int8Query256<L2Op>,
                (true, SimdWidth.V128) => &Int8Query128<L2Op>,
                (true, _) => &Int8QueryScalar<L2Op>,
                (false, SimdWidth.V512) => &Int8Query512<DotOp>,
                (false, SimdWidth.V256) => &Int8Query256<DotOp>,
                (false, SimdWidth.V128) => &Int8Query128<DotOp>,
                (false, _) => &Int8QueryScalar<DotOp>,
            },
            VectorType.Int8 => (l2, width) switch
            {
                (true, SimdWidth.V512) => &Int8L2<W512>,
                (true, SimdWidth.V256) => &Int8L2<W256>,
                (true, SimdWidth.V128) => &Int8L2<W128>,
                (true, _) => &Int8L2<WScalar>,
                (false, SimdWidth.V512) => &Int8Ip<W512>,
                (false, SimdWidth.V256) => &Int8Ip<W256>,
                (false, SimdWidth.V128) => &Int8Ip<W128>,
                (false, _) => &Int8Ip<WScalar>,
            },
            _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Float32 uses VectorDistance."),
        };
    }

    /// <summary>The search kernel (float32 query × stored form) at the best width, for callers that inline it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float QueryInline(VectorType type, bool l2, byte* q, byte* b, int n)
    {
        // type, l2 and Best are constants where this is inlined (generic struct callers), so one branch remains.
        if (type == VectorType.Int8)
        {
            return (Best, l2) switch
            {
                (SimdWidth.V512, true) => Int8Query512<L2Op>(q, b, n),
                (SimdWidth.V512, false) => Int8Query512<DotOp>(q, b, n),
                (SimdWidth.V256, true) => Int8Query256<L2Op>(q, b, n),
                (SimdWidth.V256, false) => Int8Query256<DotOp>(q, b, n),
                (SimdWidth.V128, true) => Int8Query128<L2Op>(q, b, n),
                (SimdWidth.V128, false) => Int8Query128<DotOp>(q, b, n),
                (_, true) => Int8QueryScalar<L2Op>(q, b, n),
                _ => Int8QueryScalar<DotOp>(q, b, n),
            };
        }
        return (Best, l2) switch
        {
            (SimdWidth.V512, true) => Half512<FloatLoad, L2Op>(q, b, n),
            (SimdWidth.V512, false) => Half512<FloatLoad, DotOp>(q, b, n),
            (SimdWidth.V256, true) => Half256<FloatLoad, L2Op>(q, b, n),
            (SimdWidth.V256, false) => Half256<FloatLoad, DotOp>(q, b, n),
            (SimdWidth.V128, true) => Half128<FloatLoad, L2Op>(q, b, n),
            (SimdWidth.V128, false) => Half128<FloatLoad, DotOp>(q, b, n),
            (_, true) => HalfScalar<FloatLoad, L2Op>(q, b, n),
            _ => HalfScalar<FloatLoad, DotOp>(q, b, n),
        };
    }

    // ------------------------------------------------------------------ float16 (and the float32 query side)

    /// <summary>Loads float32 lanes from either a float32 or a float16 array.</summary>
    private interface ILoad
    {
        static abstract Vector512<float> Load512(byte* p, int i);
        static abstract Vector256<float> Load256(byte* p, int i);
        static abstract Vector128<float> Load128(byte* p, int i);
        static abstract float Load(byte* p, int i);
    }

    private readonly struct FloatLoad : ILoad
    {
        public static Vector512<float> Load512(byte* p, int i) => Vector512.Load((float*)p + i);
        public static Vector256<float> Load256(byte* p, int i) => Vector256.Load((float*)p + i);
        public static Vector128<float> Load128(byte* p, int i) => Vector128.Load((float*)p + i);
        public static float Load(byte* p, int i) => ((float*)p)[i];
    }

    private readonly struct HalfLoad : ILoad
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load512(byte* p, int i)
        {
            Vector512<int> bits = Avx512F.ConvertToVector512Int32(Vector256.Load((short*)p + i));
            return (Vector512.ShiftLeft(bits, 13) & Vector512.Create(unchecked((int)0x8FFFFFFF))).AsSingle() * Vector512.Create(TwoPow112);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load256(byte* p, int i)
        {
            Vector256<int> bits = Avx2.ConvertToVector256Int32(Vector128.Load((short*)p + i));
            return (Vector256.ShiftLeft(bits, 13) & Vector256.Create(unchecked((int)0x8FFFFFFF))).AsSingle() * Vector256.Create(TwoPow112);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Load128(byte* p, int i)
        {
            // Widen 4 halves (8 bytes): load 8 and keep the lower 4 sign-extended.
            Vector128<int> bits = Vector128.WidenLower(Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<long>((short*)p + i)).AsInt16());
            return (Vector128.ShiftLeft(bits, 13) & Vector128.Create(unchecked((int)0x8FFFFFFF))).AsSingle() * Vector128.Create(TwoPow112);
        }

        public static float Load(byte* p, int i) => (float)((Half*)p)[i];
    }

    /// <summary>Accumulates one lane-wise term and finishes the sum into a distance.</summary>
    private interface IOp
    {
        static abstract Vector512<float> Acc(Vector512<float> a, Vector512<float> b, Vector512<float> acc);
        static abstract Vector256<float> Acc(Vector256<float> a, Vector256<float> b, Vector256<float> acc);
        static abstract Vector128<float> Acc(Vector128<float> a, Vector128<float> b, Vector128<float> acc);
        static abstract float Acc(float a, float b, float acc);
        static abstract float Finish(float sum);
    }

    private readonly struct L2Op : IOp
    {
        public static Vector512<float> Acc(Vector512<float> a, Vector512<float> b, Vector512<float> acc)
        {
            Vector512<float> d = a - b;
            return Vector512.FusedMultiplyAdd(d, d, acc);
        }

        public static Vector256<float> Acc(Vector256<float> a, Vector256<float> b, Vector256<float> acc)
        {
            Vector256<float> d = a - b;
            return Fma.IsSupported ? Fma.MultiplyAdd(d, d, acc) : (d * d) + acc;
        }

        public static Vector128<float> Acc(Vector128<float> a, Vector128<float> b, Vector128<float> acc)
        {
            Vector128<float> d = a - b;
            return (d * d) + acc;
        }

        public static float Acc(float a, float b, float acc)
        {
            float d = a - b;
            return (d * d) + acc;
        }

        public static float Finish(float sum) => sum;
    }

    private readonly struct DotOp : IOp
    {
        public static Vector512<float> Acc(Vector512<float> a, Vector512<float> b, Vector512<float> acc) => Vector512.FusedMultiplyAdd(a, b, acc);

        public static Vector256<float> Acc(Vector256<float> a, Vector256<float> b, Vector256<float> acc) =>
            Fma.IsSupported ? Fma.MultiplyAdd(a, b, acc) : (a * b) + acc;

        public static Vector128<float> Acc(Vector128<float> a, Vector128<float> b, Vector128<float> acc) => (a * b) + acc;

        public static float Acc(float a, float b, float acc) => (a * b) + acc;

        public static float Finish(float sum) => 1f - sum;
    }

    /// <summary>Distance between <paramref name="a"/> (float32 or float16, per <typeparamref name="TA"/>) and the float16 vector <paramref name="b"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Half512<TA, TOp>(byte* a, byte* b, int n) where TA : struct, ILoad where TOp : struct, IOp
    {
        int i = 0;
        Vector512<float> s0 = default, s1 = default;
        for (; i + 32 <= n; i += 32)
        {
            s0 = TOp.Acc(TA.Load512(a, i), HalfLoad.Load512(b, i), s0);
            s1 = TOp.Acc(TA.Load512(a, i + 16), HalfLoad.Load512(b, i + 16), s1);
        }
        if (i + 16 <= n)
        {
            s0 = TOp.Acc(TA.Load512(a, i), HalfLoad.Load512(b, i), s0);
            i += 16;
        }
        float sum = Vector512.Sum(s0 + s1);
        for (; i < n; i++)
        {
            sum = TOp.Acc(TA.Load(a, i), HalfLoad.Load(b, i), sum);
        }
        return TOp.Finish(sum);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Half256<TA, TOp>(byte* a, byte* b, int n) where TA : struct, ILoad where TOp : struct, IOp
    {
        int i = 0;
        Vector256<float> s0 = default, s1 = default;
        for (; i + 16 <= n; i += 16)
        {
            s0 = TOp.Acc(TA.Load256(a, i), HalfLoad.Load256(b, i), s0);
            s1 = TOp.Acc(TA.Load256(a, i + 8), HalfLoad.Load256(b, i + 8), s1);
        }
        if (i + 8 <= n)
        {
            s0 = TOp.Acc(TA.Load256(a, i), HalfLoad.Load256(b, i), s0);
            i += 8;
        }
        float sum = Vector256.Sum(s0 + s1);
        for (; i < n; i++)
        {
            sum = TOp.Acc(TA.Load(a, i), HalfLoad.Load(b, i), sum);
        }
        return TOp.Finish(sum);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Half128<TA, TOp>(byte* a, byte* b, int n) where TA : struct, ILoad where TOp : struct, IOp
    {
        int i = 0;
        Vector128<float> s0 = default, s1 = default;
        for (; i + 8 <= n; i += 8)
        {
            s0 = TOp.Acc(TA.Load128(a, i), HalfLoad.Load128(b, i), s0);
            s1 = TOp.Acc(TA.Load128(a, i + 4), HalfLoad.Load128(b, i + 4), s1);
        }
        if (i + 4 <= n)
        {
            s0 = TOp.Acc(TA.Load128(a, i), HalfLoad.Load128(b, i), s0);
            i += 4;
        }
        float sum = Vector128.Sum(s0 + s1);
        for (; i < n; i++)
        {
            sum = TOp.Acc(TA.Load(a, i), HalfLoad.Load(b, i), sum);
        }
        return TOp.Finish(sum);
    }

    private static float HalfScalar<TA, TOp>(byte* a, byte* b, int n) where TA : struct, ILoad where TOp : struct, IOp
    {
        float sum = 0;
        for (int i = 0; i < n; i++)
        {
            sum = TOp.Acc(TA.Load(a, i), HalfLoad.Load(b, i), sum);
        }
        return TOp.Finish(sum);
    }

    // ------------------------------------------------------------------ int8

    /// <summary>Integer sums Σa·b and, with <c>norms</c>, Σa² and Σb² over int8 codes at one SIMD width.</summary>
    internal interface IInt8Width
    {
        static abstract int Sums(sbyte* a, sbyte* b, int n, bool norms, out int aa, out int bb);
    }

    internal readonly struct W512 : IInt8Width
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static int Sums(sbyte* a, sbyte* b, int n, bool norms, out int aa, out int bb)
        {
            int i = 0;
            Vector512<int> ab0 = default, aa0 = default, bb0 = default;
            for (; i + 32 <= n; i += 32)
            {
                Vector512<short> x = Avx512BW.ConvertToVector512Int16(Vector256.Load(a + i));
                Vector512<short> y = Avx512BW.ConvertToVector512Int16(Vector256.Load(b + i));
                ab0 += Avx512BW.MultiplyAddAdjacent(x, y);
                if (norms)
                {
                    aa0 += Avx512BW.MultiplyAddAdjacent(x, x);
                    bb0 += Avx512BW.MultiplyAddAdjacent(y, y);
                }
            }
            int ab = Vector512.Sum(ab0);
            aa = Vector512.Sum(aa0);
            bb = Vector512.Sum(bb0);
            W256.Tail(a, b, i, n, norms, ref ab, ref aa, ref bb);
            return ab;
        }
    }

    internal readonly struct W256 : IInt8Width
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static int Sums(sbyte* a, sbyte* b, int n, bool norms, out int aa, out int bb)
        {
            int ab = 0;
            aa = 0;
            bb = 0;
            Tail(a, b, 0, n, norms, ref ab, ref aa, ref bb);
            return ab;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static void Tail(sbyte* a, sbyte* b, int i, int n, bool norms, ref int ab, ref int aa, ref int bb)
        {
            if (i + 16 <= n)
            {
                Vector256<int> ab0 = default, aa0 = default, bb0 = default;
                for (; i + 16 <= n; i += 16)
                {
                    Vector256<short> x = Avx2.ConvertToVector256Int16(Vector128.Load(a + i));
                    Vector256<short> y = Avx2.ConvertToVector256Int16(Vector128.Load(b + i));
                    ab0 += Avx2.MultiplyAddAdjacent(x, y);
                    if (norms)
                    {
                        aa0 += Avx2.MultiplyAddAdjacent(x, x);
                        bb0 += Avx2.MultiplyAddAdjacent(y, y);
                    }
                }
                ab += Vector256.Sum(ab0);
                aa += Vector256.Sum(aa0);
                bb += Vector256.Sum(bb0);
            }
            WScalar.Tail(a, b, i, n, norms, ref ab, ref aa, ref bb);
        }
    }

    internal readonly struct W128 : IInt8Width
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static int Sums(sbyte* a, sbyte* b, int n, bool norms, out int aa, out int bb)
        {
            int i = 0;
            Vector128<int> ab0 = default, aa0 = default, bb0 = default;
            for (; i + 16 <= n; i += 16)
            {
                // Portable: sign-extend to 16 bits, multiply (|product| ≤ 16129 fits), widen the products to 32 bits and add.
                (Vector128<short> xl, Vector128<short> xh) = Vector128.Widen(Vector128.Load(a + i));
                (Vector128<short> yl, Vector128<short> yh) = Vector128.Widen(Vector128.Load(b + i));
                ab0 += AddWidened(xl * yl, xh * yh);
                if (norms)
                {
                    aa0 += AddWidened(xl * xl, xh * xh);
                    bb0 += AddWidened(yl * yl, yh * yh);
                }
            }
            int ab = Vector128.Sum(ab0);
            aa = Vector128.Sum(aa0);
            bb = Vector128.Sum(bb0);
            WScalar.Tail(a, b, i, n, norms, ref ab, ref aa, ref bb);
            return ab;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector128<int> AddWidened(Vector128<short> p, Vector128<short> q)
        {
            (Vector128<int> pl, Vector128<int> ph) = Vector128.Widen(p);
            (Vector128<int> ql, Vector128<int> qh) = Vector128.Widen(q);
            return (pl + ph) + (ql + qh);
        }
    }

    internal readonly struct WScalar : IInt8Width
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static int Sums(sbyte* a, sbyte* b, int n, bool norms, out int aa, out int bb)
        {
            int ab = 0;
            aa = 0;
            bb = 0;
            Tail(a, b, 0, n, norms, ref ab, ref aa, ref bb);
            return ab;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static void Tail(sbyte* a, sbyte* b, int i, int n, bool norms, ref int ab, ref int aa, ref int bb)
        {
            for (; i < n; i++)
            {
                ab += a[i] * b[i];
                if (norms)
                {
                    aa += a[i] * a[i];
                    bb += b[i] * b[i];
                }
            }
        }
    }

    // Asymmetric int8: the float32 query against the stored codes (x̂ = s·c), so only the stored side carries
    // quantisation error. Codes widen to int32 and convert to float in registers; L2 accumulates (q − s·c)², the dot
    // product q·(s·c).

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Int8Query512<TOp>(byte* q, byte* b, int n) where TOp : struct, IOp
    {
        Vector512<float> scale = Vector512.Create(Unsafe.ReadUnaligned<float>(b + Int8ScaleOffset(n)));
        int i = 0;
        Vector512<float> s0 = default, s1 = default;
        for (; i + 32 <= n; i += 32)
        {
            Vector512<float> c0 = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load((sbyte*)b + i)));
            Vector512<float> c1 = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load((sbyte*)b + i + 16)));
            s0 = TOp.Acc(Vector512.Load((float*)q + i), c0 * scale, s0);
            s1 = TOp.Acc(Vector512.Load((float*)q + i + 16), c1 * scale, s1);
        }
        if (i + 16 <= n)
        {
            Vector512<float> c0 = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load((sbyte*)b + i)));
            s0 = TOp.Acc(Vector512.Load((float*)q + i), c0 * scale, s0);
            i += 16;
        }
        return Int8QueryTail<TOp>(q, b, i, n, scale.ToScalar(), Vector512.Sum(s0 + s1));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Int8Query256<TOp>(byte* q, byte* b, int n) where TOp : struct, IOp
    {
        Vector256<float> scale = Vector256.Create(Unsafe.ReadUnaligned<float>(b + Int8ScaleOffset(n)));
        int i = 0;
        Vector256<float> s0 = default, s1 = default;
        for (; i + 16 <= n; i += 16)
        {
            Vector128<sbyte> codes = Vector128.Load((sbyte*)b + i);
            Vector256<float> c0 = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(codes));
            Vector256<float> c1 = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(Sse2.ShiftRightLogical128BitLane(codes, 8)));
            s0 = TOp.Acc(Vector256.Load((float*)q + i), c0 * scale, s0);
            s1 = TOp.Acc(Vector256.Load((float*)q + i + 8), c1 * scale, s1);
        }
        return Int8QueryTail<TOp>(q, b, i, n, scale.ToScalar(), Vector256.Sum(s0 + s1));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Int8Query128<TOp>(byte* q, byte* b, int n) where TOp : struct, IOp
    {
        Vector128<float> scale = Vector128.Create(Unsafe.ReadUnaligned<float>(b + Int8ScaleOffset(n)));
        int i = 0;
        Vector128<float> s0 = default, s1 = default;
        for (; i + 8 <= n; i += 8)
        {
            // Portable widening (NEON sxtl / SSE4.1 pmovsx): 8 codes → two vectors of 4 floats.
            Vector128<short> wide = Vector128.WidenLower(Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<long>(b + i)).AsSByte());
            Vector128<float> c0 = Vector128.ConvertToSingle(Vector128.WidenLower(wide));
            Vector128<float> c1 = Vector128.ConvertToSingle(Vector128.WidenUpper(wide));
            s0 = TOp.Acc(Vector128.Load((float*)q + i), c0 * scale, s0);
            s1 = TOp.Acc(Vector128.Load((float*)q + i + 4), c1 * scale, s1);
        }
        return Int8QueryTail<TOp>(q, b, i, n, scale.ToScalar(), Vector128.Sum(s0 + s1));
    }

    private static float Int8QueryScalar<TOp>(byte* q, byte* b, int n) where TOp : struct, IOp =>
        Int8QueryTail<TOp>(q, b, 0, n, Unsafe.ReadUnaligned<float>(b + Int8ScaleOffset(n)), 0);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Int8QueryTail<TOp>(byte* q, byte* b, int i, int n, float scale, float sum) where TOp : struct, IOp
    {
        for (; i < n; i++)
        {
            sum = TOp.Acc(((float*)q)[i], ((sbyte*)b)[i] * scale, sum);
        }
        return TOp.Finish(sum);
    }

    /// <summary>Squared L2 between two int8 vectors (stored form), clamped at 0 against rounding.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float Int8L2<TW>(byte* a, byte* b, int n) where TW : struct, IInt8Width
    {
        int offset = Int8ScaleOffset(n);
        float sa = Unsafe.ReadUnaligned<float>(a + offset);
        float sb = Unsafe.ReadUnaligned<float>(b + offset);
        int ab = TW.Sums((sbyte*)a, (sbyte*)b, n, norms: true, out int aa, out int bb);
        float d = (sa * sa * aa) + (sb * sb * bb) - (2 * sa * sb * ab);
        return Math.Max(d, 0);
    }

    /// <summary>Inner-product distance <c>1 − a·b</c> between two int8 vectors (stored form).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float Int8Ip<TW>(byte* a, byte* b, int n) where TW : struct, IInt8Width
    {
        int offset = Int8ScaleOffset(n);
        float sa = Unsafe.ReadUnaligned<float>(a + offset);
        float sb = Unsafe.ReadUnaligned<float>(b + offset);
        int ab = TW.Sums((sbyte*)a, (sbyte*)b, n, norms: false, out _, out _);
        return 1f - (sa * sb * ab);
    }
}
